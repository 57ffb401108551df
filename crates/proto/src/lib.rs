//! Wire types of the Tidings WebSocket protocol, shared by the server and the SDK.
//!
//! Every frame is a JSON text frame. A client sends [`Request`]s, the server answers each with a
//! [`Response`] carrying the same `id`, and pushes [`Push`] frames at any time. Each method is a
//! marker type implementing [`Method`], which ties its wire name to its parameter and result
//! types, so the server decodes and the SDK encodes through the same definitions. Events work the
//! same way through [`Event`]. `docs/protocol.md` is the prose description of the same contract.

mod elements;
mod error_code;
pub mod events;
mod frame;
pub mod methods;
mod model;

pub use elements::*;
pub use error_code::ErrorCode;
pub use events::{Event, PushEvent};
pub use frame::{Push, Request, Response};
pub use methods::{Method, MethodKind};
pub use model::*;

/// Largest text frame the server accepts, in bytes. Larger frames are answered with
/// [`ErrorCode::FrameTooLarge`] and never parsed.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Largest message payload (text, custom data, desc, extension and cloudCustomData together;
/// for the other elements, the JSON of the element object with V2TIM's field names).
pub const MAX_MESSAGE_BYTES: usize = 12 * 1024;

/// Most messages one `sendMessageReadReceipts` or `getMessageReadReceipts` call may name.
pub const MAX_RECEIPT_BATCH: usize = 100;

/// Most members one `getGroupMessageReadMemberList` page may return.
pub const MAX_READ_MEMBER_PAGE: u32 = 100;

/// Most messages one history page may return.
pub const MAX_HISTORY_PAGE: u32 = 100;

/// Most items of one conversation-list or group-member-list page.
pub const MAX_LIST_PAGE: u32 = 100;

/// Longest user or group ID, in bytes (Tencent's limit for identifiers).
pub const MAX_ID_BYTES: usize = 32;

/// Longest `reason` of a `revokeMessage` call, in bytes.
pub const MAX_REVOKE_REASON_BYTES: usize = 256;

/// Most subscriptions to users' status one user keeps (Tencent's figure): subscribing beyond
/// it drops the earliest subscribed.
pub const MAX_STATUS_SUBSCRIPTIONS: usize = 200;

/// Most users one `subscribeUserStatus` or `unsubscribeUserStatus` call may name (Tencent's).
pub const MAX_STATUS_USERS_PER_CALL: usize = 100;

/// Most users one `getUserStatus` call may name (Tencent's).
pub const MAX_STATUS_QUERY: usize = 500;

/// Longest custom status (`setSelfStatus`), in bytes.
pub const MAX_CUSTOM_STATUS_BYTES: usize = 256;
/// Longest value of one profile field (nickname, picture URL, self-signature, a custom field),
/// in bytes: Tencent's limit for profile values.
pub const MAX_PROFILE_VALUE_BYTES: usize = 500;

/// Most custom profile fields one user may have.
pub const MAX_CUSTOM_PROFILE_FIELDS: usize = 20;

/// Longest custom profile field name (without Tencent's `Tag_Profile_Custom_` prefix), in bytes.
pub const MAX_CUSTOM_FIELD_NAME_BYTES: usize = 8;

/// Tencent's prefix of custom profile fields in REST tags (`Tag_Profile_Custom_<name>`).
pub const CUSTOM_PROFILE_TAG_PREFIX: &str = "Tag_Profile_Custom_";

/// Most users one `getUsersInfo` call (or REST `portrait_get`) may name.
pub const MAX_USERS_INFO: usize = 100;

/// Longest group name card, in bytes (Tencent's limit).
pub const MAX_NAME_CARD_BYTES: usize = 50;

/// Whether `name` is a valid custom profile field name: 1 to [`MAX_CUSTOM_FIELD_NAME_BYTES`]
/// ASCII letters, digits or underscores.
pub fn is_valid_custom_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CUSTOM_FIELD_NAME_BYTES
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Most members a targeted group message may name (`receiverList`, REST `To_Account`), as in
/// Tencent's `send_group_msg`.
pub const MAX_TARGETED_RECEIVERS: usize = 50;

/// Most entries of a message's `groupAtUserList` (REST `GroupAtInfo`).
pub const MAX_GROUP_AT_USERS: usize = 100;

/// Checks that `id` is a valid user or group identifier: 1 to [`MAX_ID_BYTES`] bytes of printable
/// ASCII other than space (Tencent allows 0x20–0x7e; spaces are refused here because they make IDs
/// ambiguous in URLs and logs).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && id.bytes().all(|b| (0x21..=0x7e).contains(&b))
}
