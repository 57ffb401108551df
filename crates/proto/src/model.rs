//! The objects carried inside requests, responses and pushes, named as in V2TIM.

use serde::{Deserialize, Serialize};

/// `elemType` of a text message (V2TIM_ELEM_TYPE_TEXT).
pub const ELEM_TYPE_TEXT: u32 = 1;
/// `elemType` of a custom message (V2TIM_ELEM_TYPE_CUSTOM).
pub const ELEM_TYPE_CUSTOM: u32 = 2;

/// `status` of a message stored by the server (V2TIM_MSG_STATUS_SEND_SUCC).
pub const MSG_STATUS_SENT: u32 = 2;
/// `status` of a recalled message (V2TIM_MSG_STATUS_LOCAL_REVOKED).
pub const MSG_STATUS_REVOKED: u32 = 6;

/// `type` of a C2C conversation (V2TIM_C2C).
pub const CONVERSATION_TYPE_C2C: u32 = 1;
/// `type` of a group conversation (V2TIM_GROUP).
pub const CONVERSATION_TYPE_GROUP: u32 = 2;

/// The body of a text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextElem {
    /// The text.
    pub text: String,
}

/// The body of a custom message: opaque to the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomElem {
    /// Application data.
    pub data: String,
    /// Description (shown in offline pushes by Tencent).
    pub desc: String,
    /// Extension field.
    pub extension: String,
}

/// A stored message as one viewer sees it (V2TimMessage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Server-assigned unique ID.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// Server time of storage, Unix seconds.
    pub timestamp: i64,
    /// Position in its conversation: 1, 2, 3… without gaps per group and per C2C pair.
    pub seq: u64,
    /// The sender's 32-bit random (0 when not given).
    pub random: u32,
    /// Sender's user ID.
    pub sender: String,
    /// C2C only: the *other* user of the conversation, from the viewer's side.
    #[serde(rename = "userID", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Group only: the group.
    #[serde(rename = "groupID", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Sent by the viewer.
    pub is_self: bool,
    /// The viewer has read it (conversation-level read position covers it, or it is the viewer's own).
    pub is_read: bool,
    /// C2C only, the viewer's own messages: the peer's conversation-level read position covers
    /// it (V2TIM's native meaning). Message-level receipts do not set it.
    pub is_peer_read: bool,
    /// C2C only, the viewer's own messages: the peer sent a message-level read receipt for it
    /// (the C API's `message_receipt_peer_read`).
    pub receipt_peer_read: bool,
    /// The sender asked for read receipts.
    pub need_read_receipt: bool,
    /// Receiver side: the viewer already sent a read receipt for this message (from any device).
    pub has_sent_receipt: bool,
    /// Not counted in unread counts.
    pub is_excluded_from_unread_count: bool,
    /// V2TIM's element type: [`ELEM_TYPE_TEXT`], [`ELEM_TYPE_CUSTOM`], [`crate::ELEM_TYPE_IMAGE`]
    /// and the others of [`crate::Elem`].
    pub elem_type: u32,
    /// Present when `elemType` is text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_elem: Option<TextElem>,
    /// Present when `elemType` is custom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_elem: Option<CustomElem>,
    /// The other element types (`imageElem`, `soundElem`, `videoElem`, `fileElem`,
    /// `locationElem`, `faceElem`, `mergerElem`): the one `elemType` names.
    #[serde(flatten)]
    pub rich: crate::RichElems,
    /// A Tencent REST `MsgBody` array, present when the message was sent over REST with a body
    /// that is not a single text or custom element (kept as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_body: Option<serde_json::Value>,
    /// Application data attached to the message.
    #[serde(default)]
    pub cloud_custom_data: String,
    /// [`MSG_STATUS_SENT`], or [`MSG_STATUS_REVOKED`] once the message was recalled.
    pub status: u32,
    /// The message was recalled (the Web SDK's `isRevoked`; `status` says it too). A recalled
    /// message carries no element and no `cloudCustomData`: they were erased.
    #[serde(default)]
    pub is_revoked: bool,
    /// Who recalled it (V2TIM's `revokerInfo`), once recalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoker_info: Option<ReadMemberInfo>,
    /// Why it was recalled (V2TIM's `revokeReason`; may be empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revoke_reason: String,
    /// Group: the users the message mentions (V2TIM's `groupAtUserList`; [`crate::methods::GROUP_AT_ALL`]
    /// for everyone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_at_user_list: Vec<String>,
    /// Group: the `seq` of the previous message of the conversation that this viewer sees, when
    /// it is not `seq − 1`: the sequences in between are targeted messages for other members,
    /// which this viewer will never receive (0: none before). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_seq: Option<u64>,
    /// The sender's nickname when the message was sent (empty when unset).
    #[serde(default)]
    pub nick_name: String,
    /// The sender's profile picture URL when the message was sent (empty when unset).
    #[serde(rename = "faceURL", default)]
    pub face_url: String,
}

impl Message {
    /// Its element (`None` for a recalled message, or one sent over REST with several elements,
    /// which `msgBody` carries).
    pub fn elem(&self) -> Option<crate::Elem> {
        crate::Elem::from_fields(
            self.text_elem.as_ref(),
            self.custom_elem.as_ref(),
            &self.rich,
        )
        .ok()
        .flatten()
    }
}

/// One conversation of the caller (V2TimConversation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// `c2c_<userID>` or `group_<groupID>`.
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    /// [`CONVERSATION_TYPE_C2C`] or [`CONVERSATION_TYPE_GROUP`].
    #[serde(rename = "type")]
    pub conversation_type: u32,
    /// C2C: the peer.
    #[serde(rename = "userID", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Group: the group.
    #[serde(rename = "groupID", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Group: its type name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<String>,
    /// The peer's ID or the group's name.
    pub show_name: String,
    /// Messages from others after the caller's read position, excluding excluded ones.
    pub unread_count: u64,
    /// C2C: the caller's conversation-level read time, Unix seconds (0 when never read; 0 for
    /// groups).
    pub c2c_read_timestamp: i64,
    /// Group: the caller's read position, the `seq` of the newest message read (0 for C2C).
    pub group_read_sequence: u64,
    /// The newest message, if any.
    #[serde(default)]
    pub last_message: Option<Message>,
    /// Sort key (newest activity first): Unix seconds of the newest message; without messages,
    /// the group's creation time or the C2C read time.
    pub order_key: i64,
    /// Group: the unread messages after the caller's read position that mention the caller or
    /// everyone, oldest first (V2TIM's `groupAtInfoList`); empty for C2C.
    #[serde(default)]
    pub group_at_info_list: Vec<GroupAtInfo>,
}

/// `V2TIMGroupAtInfo.atType`: the message mentions the viewer.
pub const GROUP_AT_ME: u32 = 1;
/// `V2TIMGroupAtInfo.atType`: the message mentions everyone.
pub const GROUP_AT_ALL_TYPE: u32 = 2;
/// `V2TIMGroupAtInfo.atType`: the message mentions everyone and the viewer.
pub const GROUP_AT_ALL_AT_ME: u32 = 3;

/// One @-mention of the caller in a group conversation (V2TIMGroupAtInfo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupAtInfo {
    /// The mentioning message's `seq`.
    pub seq: u64,
    /// [`GROUP_AT_ME`], [`GROUP_AT_ALL_TYPE`] or [`GROUP_AT_ALL_AT_ME`].
    pub at_type: u32,
}

/// Group member roles, numbered as V2TIM's `V2TIMGroupMemberRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "u32")]
pub enum GroupRole {
    /// Ordinary member (200).
    Member,
    /// Administrator (300).
    Admin,
    /// Owner (400).
    Owner,
}

impl From<GroupRole> for u32 {
    fn from(role: GroupRole) -> u32 {
        match role {
            GroupRole::Member => 200,
            GroupRole::Admin => 300,
            GroupRole::Owner => 400,
        }
    }
}

impl TryFrom<u32> for GroupRole {
    type Error = String;
    fn try_from(value: u32) -> Result<Self, String> {
        match value {
            200 => Ok(Self::Member),
            300 => Ok(Self::Admin),
            400 => Ok(Self::Owner),
            other => Err(format!(
                "role must be 200 (member), 300 (admin) or 400 (owner), not {other}"
            )),
        }
    }
}

/// A user's gender, numbered as V2TIM's `V2TIMGender`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "u32")]
pub enum Gender {
    /// Not set (0).
    #[default]
    Unknown,
    /// Male (1).
    Male,
    /// Female (2).
    Female,
}

impl From<Gender> for u32 {
    fn from(gender: Gender) -> u32 {
        match gender {
            Gender::Unknown => 0,
            Gender::Male => 1,
            Gender::Female => 2,
        }
    }
}

impl TryFrom<u32> for Gender {
    type Error = String;
    fn try_from(value: u32) -> Result<Self, String> {
        match value {
            0 => Ok(Self::Unknown),
            1 => Ok(Self::Male),
            2 => Ok(Self::Female),
            other => Err(format!(
                "gender must be 0 (unknown), 1 (male) or 2 (female), not {other}"
            )),
        }
    }
}

/// Group types, named as V2TIM's group type strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupType {
    /// Private work group: invitation only (Tencent's legacy `Private`).
    Work,
    /// Public group: anyone may join; only the owner and admins invite.
    Public,
    /// Meeting group: anyone may join (Tencent's legacy `ChatRoom`).
    Meeting,
    /// Live-streaming group: anyone may join, no stable membership, no unread counts.
    #[serde(rename = "AVChatRoom")]
    AvChatRoom,
    /// Community: anyone may join.
    Community,
}

impl GroupType {
    /// Every type, in documentation order.
    pub const ALL: [GroupType; 5] = [
        Self::Work,
        Self::Public,
        Self::Meeting,
        Self::AvChatRoom,
        Self::Community,
    ];

    /// The V2TIM name (`Work`, `Public`, `Meeting`, `AVChatRoom`, `Community`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Work => "Work",
            Self::Public => "Public",
            Self::Meeting => "Meeting",
            Self::AvChatRoom => "AVChatRoom",
            Self::Community => "Community",
        }
    }

    /// Parses a V2TIM name or one of Tencent's legacy REST names (`Private`, `ChatRoom`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "Work" | "Private" => Some(Self::Work),
            "Public" => Some(Self::Public),
            "Meeting" | "ChatRoom" => Some(Self::Meeting),
            "AVChatRoom" => Some(Self::AvChatRoom),
            "Community" => Some(Self::Community),
            _ => None,
        }
    }
}

/// A member to add when creating a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberSpec {
    /// The member.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// The member's role (default member). Owner is refused: the creator is the owner.
    #[serde(default = "member_role")]
    pub role: GroupRole,
}

fn member_role() -> GroupRole {
    GroupRole::Member
}

/// A group as returned by `getJoinedGroupList` and `getGroupsInfo` (V2TimGroupInfo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    /// The group ID.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// The group type.
    pub group_type: GroupType,
    /// Display name.
    pub group_name: String,
    /// The owner's user ID.
    pub owner: String,
    /// Creation time, Unix seconds.
    pub create_time: i64,
    /// Current member count.
    pub member_count: u64,
    /// The caller's role, when the caller is a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<GroupRole>,
    /// Sequence of the newest message (0 when none).
    pub last_message_seq: u64,
}

/// One member of a group (V2TimGroupMemberFullInfo, the fields Tidings keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberInfo {
    /// The member.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Profile nickname (empty when unset).
    pub nick_name: String,
    /// Profile picture URL (empty when unset).
    #[serde(rename = "faceURL")]
    pub face_url: String,
    /// The member's name card in this group (empty when unset).
    #[serde(default)]
    pub name_card: String,
    /// Role in the group.
    pub role: GroupRole,
    /// When the member joined, Unix seconds.
    pub join_time: i64,
}

/// Outcome of adding or removing one member (V2TimGroupMemberOperationResult).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberOperationResult {
    /// The user concerned.
    #[serde(rename = "memberID")]
    pub member_id: String,
    /// V2TIM's `V2TIMGroupMemberResult`: 0 failed (no such user), 1 succeeded, 2 invalid
    /// (already a member when adding, not a member when removing).
    pub result: u32,
}

/// `MemberOperationResult::result`: the operation failed (adding: the user does not exist).
pub const MEMBER_OP_FAIL: u32 = 0;
/// `MemberOperationResult::result`: the operation succeeded.
pub const MEMBER_OP_SUCCESS: u32 = 1;
/// `MemberOperationResult::result`: nothing to do: the user was already a member (adding), or
/// is not one (removing).
pub const MEMBER_OP_INVALID: u32 = 2;
/// `MemberOperationResult::result`: not added: the user already belongs to as many groups as
/// the server allows (`[limits] max_groups_joined_per_user`).
pub const MEMBER_OP_OVER_LIMIT: u32 = 4;

/// One group of a `getGroupsInfo` answer (V2TimGroupInfoResult).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInfoResult {
    /// 0, or the error code for this group.
    pub result_code: u32,
    /// Empty, or what was wrong.
    pub result_message: String,
    /// The group, when `resultCode` is 0.
    #[serde(default)]
    pub group_info: Option<GroupInfo>,
}

/// Read-receipt state of one message (V2TimMessageReceipt). Every field is always sent, zero or
/// empty where it does not apply: Tencent's Flutter `fromJson` reads `timestamp` as a non-null
/// integer, so an item without it crashes a Dart client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageReceipt {
    /// The message.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// C2C: the peer (the reader). Group: empty.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Group: the group. C2C: empty.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// C2C: the peer sent a receipt for this message. Group: false.
    pub is_peer_read: bool,
    /// C2C: when the peer sent the receipt, Unix seconds (0 while unread). Group: 0.
    pub timestamp: i64,
    /// Group: recipients who have read it. C2C: 0.
    pub read_count: u64,
    /// Group: recipients who have not. C2C: 0.
    pub unread_count: u64,
}

impl MessageReceipt {
    /// The state of a C2C message whose receiver is `reader`: read at `read_at`, if at all.
    pub fn c2c(msg_id: String, reader: String, read_at: Option<i64>) -> Self {
        Self {
            msg_id,
            user_id: reader,
            group_id: String::new(),
            is_peer_read: read_at.is_some(),
            timestamp: read_at.unwrap_or(0),
            read_count: 0,
            unread_count: 0,
        }
    }

    /// The counts of a group message.
    pub fn group(msg_id: String, group_id: String, read_count: u64, unread_count: u64) -> Self {
        Self {
            msg_id,
            user_id: String::new(),
            group_id,
            is_peer_read: false,
            timestamp: 0,
            read_count,
            unread_count,
        }
    }
}

/// A conversation-level read report from the C2C peer (`onRecvC2CReadReceipt` item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct C2cReadReceipt {
    /// The peer who read.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Everything the caller sent up to this time (Unix seconds) is read.
    pub timestamp: i64,
}

/// A group member as V2TIM's `V2TimGroupMemberInfo`: in read and unread lists, and in the
/// membership events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadMemberInfo {
    /// The member.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Profile nickname.
    pub nick_name: String,
    /// Profile picture URL.
    #[serde(rename = "faceURL")]
    pub face_url: String,
    /// The member's name card in the group; absent on the wire when empty (unset, and outside
    /// a group: `revokerInfo`, the membership events).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_card: String,
}

/// A user's profile (V2TimUserFullInfo, the fields Tidings keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserFullInfo {
    /// The user.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Nickname (empty when unset).
    pub nick_name: String,
    /// Profile picture URL (empty when unset).
    #[serde(rename = "faceURL")]
    pub face_url: String,
    /// Self-signature (empty when unset).
    pub self_signature: String,
    /// Gender.
    pub gender: Gender,
    /// Custom fields by name, without Tencent's `Tag_Profile_Custom_` prefix.
    pub custom_info: std::collections::BTreeMap<String, String>,
}

/// A user's status (V2TIM's `V2TIMUserStatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStatus {
    #[serde(rename = "userID")]
    pub user_id: String,
    /// [`USER_STATUS_ONLINE`] or [`USER_STATUS_OFFLINE`] (V2TIM's `V2TIM_USER_STATUS_…`).
    pub status_type: u32,
    /// Set by the user with `setSelfStatus`; cleared when the user goes offline.
    pub custom_status: String,
}

/// `statusType`: the user has a session on some node.
pub const USER_STATUS_ONLINE: u32 = 1;
/// `statusType`: the user has no session.
pub const USER_STATUS_OFFLINE: u32 = 2;
