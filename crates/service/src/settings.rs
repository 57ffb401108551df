//! Settings the services enforce: read-receipt switches and limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tidings_proto::GroupType;

/// Read-receipt switches, changeable at runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadReceiptSettings {
    /// Off: every receipt method answers 7013.
    pub enabled: bool,
    /// Group types whose messages may ask for receipts. AVChatRoom is never allowed.
    pub group_types: Vec<GroupType>,
}

impl Default for ReadReceiptSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            group_types: vec![GroupType::Work, GroupType::Public, GroupType::Meeting],
        }
    }
}

impl ReadReceiptSettings {
    /// Checks the settings; AVChatRoom has no stable membership to count against.
    pub fn validate(&self) -> Result<(), String> {
        if self.group_types.contains(&GroupType::AvChatRoom) {
            return Err("read receipts cannot be enabled for AVChatRoom groups: they have no stable membership".into());
        }
        Ok(())
    }

    /// Whether messages of this group type may ask for receipts.
    pub fn allows(&self, group_type: GroupType) -> bool {
        group_type != GroupType::AvChatRoom && self.group_types.contains(&group_type)
    }
}

/// Limits on groups and receipt notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most members of one group.
    pub max_group_members: u64,
    /// Most existing groups one user may own (creating another is refused).
    pub max_groups_created_per_user: u64,
    /// Most groups one user may belong to (joining, being invited or created into another is
    /// refused). It also bounds what a user's group listings read.
    pub max_groups_joined_per_user: u64,
    /// Group receipt notifications to a sender are coalesced over this window.
    pub receipt_window: Duration,
    /// How long after sending a sender may recall a message (group owners and admins, and the
    /// App administrator, may at any time).
    pub revoke_time_limit: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_group_members: 100_000,
            max_groups_created_per_user: 500,
            max_groups_joined_per_user: 2_000,
            receipt_window: Duration::from_millis(100),
            revoke_time_limit: Duration::from_secs(120),
        }
    }
}
