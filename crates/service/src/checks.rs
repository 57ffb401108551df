//! Checks shared by every area of the service: identifiers and page sizes, group lookup and
//! membership, and the read-receipt switches. Each refuses with the same error wherever it runs.

use tidings_proto::GroupType;
use tidings_store::{GroupRecord, MemberRecord};

use crate::{ServiceError, ServiceResult, Tidings};

/// Largest message sequence the store holds (SQLite integers are signed): a larger one, which
/// only a request can name, is no message's, and must not reach the store, which refuses it.
pub(crate) const MAX_SEQ: u64 = u64::MAX >> 1;

/// The sequences of `seqs` that may name a stored message.
pub(crate) fn storable(seqs: &[u64]) -> Vec<u64> {
    seqs.iter().copied().filter(|seq| *seq <= MAX_SEQ).collect()
}

/// Refuses an ID that is not a valid user or group identifier.
pub(crate) fn check_id(id: &str) -> ServiceResult<()> {
    if tidings_proto::is_valid_id(id) {
        Ok(())
    } else {
        Err(ServiceError::InvalidIdentifier(id.to_owned()))
    }
}

/// Refuses a page size outside `1..=max`; `what` names the parameter.
pub(crate) fn check_page(count: u32, max: u32, what: &str) -> ServiceResult<()> {
    if (1..=max).contains(&count) {
        Ok(())
    } else {
        Err(ServiceError::InvalidParameters(format!(
            "{what} must be between 1 and {max}, not {count}"
        )))
    }
}

impl Tidings {
    /// The group, or [`ServiceError::GroupNotFound`].
    pub(crate) async fn group_or_not_found(&self, group_id: &str) -> ServiceResult<GroupRecord> {
        self.store
            .get_group(group_id)
            .await?
            .ok_or_else(|| ServiceError::GroupNotFound(group_id.to_owned()))
    }

    /// The user's membership, or a permission error naming the group.
    pub(crate) async fn require_member(
        &self,
        group_id: &str,
        user: &str,
    ) -> ServiceResult<MemberRecord> {
        self.store
            .get_member(group_id, user)
            .await?
            .ok_or_else(|| ServiceError::not_member(group_id, user))
    }

    /// Refuses every receipt call while read receipts are switched off.
    pub(crate) fn require_receipts_enabled(&self) -> ServiceResult<()> {
        if self.read_receipt_settings().enabled {
            Ok(())
        } else {
            Err(ServiceError::ReceiptsNotSupported(
                "read receipts are disabled on this server".into(),
            ))
        }
    }

    /// Refuses receipts for messages of a group type they are not enabled for.
    pub(crate) fn require_receipts_in(&self, group_type: GroupType) -> ServiceResult<()> {
        if self.read_receipt_settings().allows(group_type) {
            Ok(())
        } else {
            Err(ServiceError::ReceiptsNotSupported(format!(
                "read receipts are not enabled for {} groups on this server",
                group_type.as_str()
            )))
        }
    }
}
