//! Tencent IM's vocabulary for domain values, shared by the REST API and the webhooks: group
//! type names and `MsgBody` arrays.

pub(crate) mod msg_body;

use tidings_proto::GroupType;

/// Tencent's REST and callback name of a group type: `Private` (V2TIM's Work), `Public`,
/// `ChatRoom` (V2TIM's Meeting), `AVChatRoom`, `Community`.
pub(crate) fn group_type_name(group_type: GroupType) -> &'static str {
    match group_type {
        GroupType::Work => "Private",
        GroupType::Meeting => "ChatRoom",
        other => other.as_str(),
    }
}
