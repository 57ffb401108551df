//! Every request method: its wire name, parameters and result type.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::model::*;

/// A request method. The server decodes `Params` and encodes `Output`; the SDK does the reverse.
pub trait Method {
    /// The wire name, e.g. `sendMessage`.
    const NAME: &'static str;
    /// Whether the result is a snapshot of state that pushes also carry (the `get…` methods):
    /// the server holds back pushes published while it runs until its response is written, so
    /// that no push newer than the snapshot arrives before it.
    const SNAPSHOT: bool;
    /// The `params` object.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// The `data` of a successful response.
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// No parameters, or no result: serialises as `{}` and accepts any object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

macro_rules! methods {
    (@snapshot snapshot) => { true };
    (@snapshot) => { false };
    ($($(#[$doc:meta])* $marker:ident = $name:literal ($params:ty) -> $output:ty $(, $snapshot:ident)?;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $marker;
            impl Method for $marker {
                const NAME: &'static str = $name;
                const SNAPSHOT: bool = methods!(@snapshot $($snapshot)?);
                type Params = $params;
                type Output = $output;
            }
        )*
        /// Every method name the server knows, for documentation tests.
        pub const ALL_METHODS: &[&str] = &[$($name),*];

        /// Every method as one value, named like its marker type: what a server decodes a
        /// request's `method` into, so that a `match` over it must handle every method.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MethodKind {
            $(
                #[doc = concat!("[`", stringify!($marker), "`] (`", $name, "`).")]
                $marker,
            )*
        }

        impl MethodKind {
            /// Every method, in the order of [`ALL_METHODS`].
            pub const ALL: &[Self] = &[$(Self::$marker),*];

            /// The method with this wire name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$marker),)*
                    _ => None,
                }
            }

            /// The wire name.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$marker => $name,)*
                }
            }

            /// [`Method::SNAPSHOT`] of this method.
            pub const fn is_snapshot(self) -> bool {
                match self {
                    $(Self::$marker => <$marker as Method>::SNAPSHOT,)*
                }
            }
        }
    };
}

// `Marker = "wireName" (Params) -> Output`, followed by `, snapshot` for a method whose result
// pushes also carry (see `Method::SNAPSHOT`).
methods! {
    /// Authenticates the connection; must be the first request.
    Login = "login" (LoginParams) -> Empty;
    /// Ends the session; the connection stays open and may log in again.
    Logout = "logout" (Empty) -> Empty;
    /// Sends a C2C or group message; returns the stored message.
    SendMessage = "sendMessage" (SendMessageParams) -> Message;
    /// A page of C2C history, newest first.
    GetC2cHistoryMessageList = "getC2CHistoryMessageList" (C2cHistoryParams) -> Vec<Message>, snapshot;
    /// A page of group history, newest first.
    GetGroupHistoryMessageList = "getGroupHistoryMessageList" (GroupHistoryParams) -> Vec<Message>, snapshot;
    /// A page of the caller's conversations, newest activity first.
    GetConversationList = "getConversationList" (ConversationListParams) -> ConversationListResult, snapshot;
    /// One conversation of the caller.
    GetConversation = "getConversation" (ConversationIdParams) -> Conversation, snapshot;
    /// The sum of the unread counts of the caller's conversations.
    GetTotalUnreadMessageCount = "getTotalUnreadMessageCount" (Empty) -> u64, snapshot;
    /// Creates a group owned by the caller.
    CreateGroup = "createGroup" (CreateGroupParams) -> CreateGroupResult;
    /// Joins a group that admits members freely.
    JoinGroup = "joinGroup" (JoinGroupParams) -> Empty;
    /// Leaves a group.
    QuitGroup = "quitGroup" (GroupIdParams) -> Empty;
    /// Dismisses a group (owner only).
    DismissGroup = "dismissGroup" (GroupIdParams) -> Empty;
    /// Adds users to a group.
    InviteUserToGroup = "inviteUserToGroup" (InviteParams) -> Vec<MemberOperationResult>;
    /// Removes members from a group (owner or admin).
    KickGroupMember = "kickGroupMember" (KickParams) -> Vec<MemberOperationResult>;
    /// A page of a group's members, in joining order.
    GetGroupMemberList = "getGroupMemberList" (GroupMemberListParams) -> GroupMemberListResult, snapshot;
    /// The groups the caller belongs to, in group ID order: all, or a page.
    GetJoinedGroupList = "getJoinedGroupList" (JoinedGroupListParams) -> Vec<GroupInfo>, snapshot;
    /// Information on named groups.
    GetGroupsInfo = "getGroupsInfo" (GroupsInfoParams) -> Vec<GroupInfoResult>, snapshot;
    /// Marks a C2C conversation read up to now.
    MarkC2cMessageAsRead = "markC2CMessageAsRead" (UserIdParams) -> Empty;
    /// Marks a group conversation read up to its newest message.
    MarkGroupMessageAsRead = "markGroupMessageAsRead" (GroupIdParams) -> Empty;
    /// Clears a conversation's unread count up to a time (C2C) or sequence (group).
    CleanConversationUnreadMessageCount = "cleanConversationUnreadMessageCount" (CleanUnreadParams) -> Empty;
    /// Receiver side: reports that messages of one conversation were read; answers the skipped ones.
    SendMessageReadReceipts = "sendMessageReadReceipts" (MessageIdListParams) -> SendReceiptsResult;
    /// Sender side: receipt state of own messages of one conversation.
    GetMessageReadReceipts = "getMessageReadReceipts" (MessageIdListParams) -> Vec<MessageReceipt>, snapshot;
    /// Sender side: a page of the members who have (or have not) read a group message.
    GetGroupMessageReadMemberList = "getGroupMessageReadMemberList" (ReadMemberListParams) -> ReadMemberListResult, snapshot;
    /// Recalls a message: its sender within the server's time limit, a group's owner and admins
    /// at any time.
    RevokeMessage = "revokeMessage" (RevokeMessageParams) -> Empty;
    /// Tidings extension: keeps the caller's read receipts private (true) or shows them again.
    SetReceiptPrivacy = "setReceiptPrivacy" (ReceiptPrivacy) -> Empty;
    /// Tidings extension: whether the caller's read receipts are private.
    GetReceiptPrivacy = "getReceiptPrivacy" (Empty) -> ReceiptPrivacy;
    /// Subscribes to users' status (`onUserStatusChanged`).
    SubscribeUserStatus = "subscribeUserStatus" (UserIdListParams) -> Empty;
    /// Ends subscriptions to users' status; all of them when `userIDList` is empty.
    UnsubscribeUserStatus = "unsubscribeUserStatus" (UserIdListParams) -> Empty;
    /// Users' current status.
    GetUserStatus = "getUserStatus" (UserIdListParams) -> Vec<UserStatus>, snapshot;
    /// Sets the caller's custom status; an empty one clears it.
    SetSelfStatus = "setSelfStatus" (SetSelfStatusParams) -> Empty;
    /// Changes the caller's own profile: the fields given, the others stay.
    SetSelfInfo = "setSelfInfo" (SetSelfInfoParams) -> Empty;
    /// Profiles of named users (those that exist, in the order asked).
    GetUsersInfo = "getUsersInfo" (UsersInfoParams) -> Vec<UserFullInfo>;
    /// Sets a member's name card in a group: the caller's own, or (owner and admins) another
    /// member's.
    SetGroupMemberInfo = "setGroupMemberInfo" (SetGroupMemberInfoParams) -> Empty;
}

/// A list of users (`subscribeUserStatus`, `unsubscribeUserStatus`, `getUserStatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdListParams {
    #[serde(rename = "userIDList", default)]
    pub user_id_list: Vec<String>,
}

/// `setSelfStatus`: the custom status (V2TIM's `V2TIMUserStatus.customStatus`; the other fields
/// are read-only and ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetSelfStatusParams {
    #[serde(default)]
    pub custom_status: String,
}

/// `login` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginParams {
    /// The user logging in.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// A TLSSigAPIv2 UserSig for that user.
    pub user_sig: String,
}

/// `sendMessage` parameters. Exactly one of `receiver` and `groupID`, and exactly one of
/// `textElem` and `customElem`. An empty `receiver` or `groupID` counts as absent, as in V2TIM,
/// whose samples pass `receiver: ""` with a `groupID`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageParams {
    /// C2C receiver.
    #[serde(
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub receiver: Option<String>,
    /// Target group.
    #[serde(
        rename = "groupID",
        default,
        deserialize_with = "empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_id: Option<String>,
    /// Text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_elem: Option<TextElem>,
    /// Custom body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_elem: Option<CustomElem>,
    /// The other element types (`imageElem`, `soundElem`, `videoElem`, `fileElem`,
    /// `locationElem`, `faceElem`, `mergerElem`). Exactly one element is given in all.
    #[serde(flatten)]
    pub rich: crate::RichElems,
    /// V2TIM's number of the element's type; optional, and when given it must name the
    /// element given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elem_type: Option<u32>,
    /// Ask receivers for read receipts.
    #[serde(default)]
    pub need_read_receipt: bool,
    /// Deliver only to connected devices; store nothing.
    #[serde(default)]
    pub online_user_only: bool,
    /// Do not count the message in receivers' unread counts.
    #[serde(default)]
    pub is_excluded_from_unread_count: bool,
    /// Application data stored with the message.
    #[serde(default)]
    pub cloud_custom_data: String,
    /// Optional client random (for the client's own de-duplication).
    #[serde(default)]
    pub random: u32,
    /// Group: members the message mentions (V2TIM's `groupAtUserList`; [`GROUP_AT_ALL`] for
    /// everyone), at most [`crate::MAX_GROUP_AT_USERS`]. Not with a targeted message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_at_user_list: Vec<String>,
    /// Group: makes it a targeted group message, for these members only (V2TIM's
    /// `receiverList` of `createTargetedGroupMessage`; `targetGroupMemberList` is read too), at
    /// most [`crate::MAX_TARGETED_RECEIVERS`]. A `receiver` given with `groupID` is one more.
    #[serde(
        default,
        alias = "targetGroupMemberList",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub receiver_list: Vec<String>,
}

impl SendMessageParams {
    /// Parameters of a message holding `elem`, to be addressed by setting `receiver` or
    /// `groupID`.
    pub fn with_elem(elem: crate::Elem) -> Self {
        let mut params = Self::default();
        elem.into_fields(
            &mut params.text_elem,
            &mut params.custom_elem,
            &mut params.rich,
        );
        params
    }

    /// The message's one element: an error says why there is not exactly one, or why
    /// `elemType` does not name it.
    pub fn elem(&self) -> Result<crate::Elem, String> {
        let elem =
            crate::Elem::from_fields(self.text_elem.as_ref(), self.custom_elem.as_ref(), &self.rich)?
                .ok_or("give one element: textElem, customElem, imageElem, soundElem, videoElem, fileElem, locationElem, faceElem or mergerElem")?;
        match self.elem_type {
            Some(elem_type) if !crate::ELEM_TYPES.contains(&elem_type) => Err(format!(
                "unknown elemType {elem_type}: V2TIM numbers 1 text, 2 custom, 3 image, 4 sound, 5 video, 6 file, 7 location, 8 face, 10 merger"
            )),
            Some(elem_type) if elem_type != elem.elem_type() => Err(format!(
                "elemType {elem_type} does not match {} (elemType {})",
                elem.field_name(),
                elem.elem_type()
            )),
            _ => Ok(elem),
        }
    }
}

/// The `groupAtUserList` entry that mentions everyone (V2TIM's `kImSDK_MesssageAtALL`).
pub const GROUP_AT_ALL: &str = "__kImSDK_MesssageAtALL__";

/// Reads an optional string in which `""` (like `null`) means absent.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.filter(|s| !s.is_empty()))
}

/// `getC2CHistoryMessageList` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct C2cHistoryParams {
    /// The peer.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// Page size, 1 to 100.
    pub count: u32,
    /// Continue with messages older than this one; absent for the newest page.
    #[serde(rename = "lastMsgID", default, skip_serializing_if = "Option::is_none")]
    pub last_msg_id: Option<String>,
}

/// `getGroupHistoryMessageList` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupHistoryParams {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Page size, 1 to 100.
    pub count: u32,
    /// Continue with messages older than this one; absent for the newest page.
    #[serde(rename = "lastMsgID", default, skip_serializing_if = "Option::is_none")]
    pub last_msg_id: Option<String>,
}

/// `getJoinedGroupList` parameters, all optional: without them, every group of the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinedGroupListParams {
    /// Continue after this group ID (the last of the previous page); empty for the first.
    #[serde(
        rename = "afterGroupID",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub after_group_id: String,
    /// Page size, 1 to 100; absent for every group after `afterGroupID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// `getConversationList` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationListParams {
    /// 0 for the first page, then the previous page's `nextSeq`.
    #[serde(default)]
    pub next_seq: u64,
    /// Page size, 1 to 100.
    pub count: u32,
}

/// `getConversationList` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationListResult {
    /// This page.
    pub conversation_list: Vec<Conversation>,
    /// Pass back for the next page.
    pub next_seq: u64,
    /// No more pages.
    pub is_finished: bool,
}

/// Parameters naming one conversation of the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationIdParams {
    /// `c2c_<userID>` or `group_<groupID>`.
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
}

/// `createGroup` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroupParams {
    /// `Work`, `Public`, `Meeting`, `AVChatRoom` or `Community`.
    pub group_type: String,
    /// Custom group ID; generated when absent.
    #[serde(rename = "groupID", default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Display name (at most 100 bytes).
    pub group_name: String,
    /// Initial members besides the creator.
    #[serde(default)]
    pub member_list: Vec<GroupMemberSpec>,
}

/// `createGroup` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroupResult {
    /// The new group's ID.
    #[serde(rename = "groupID")]
    pub group_id: String,
}

/// `joinGroup` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroupParams {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Application message (kept for V2TIM compatibility; not stored).
    #[serde(default)]
    pub message: String,
}

/// Parameters naming one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupIdParams {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
}

/// Parameters naming one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdParams {
    /// The user.
    #[serde(rename = "userID")]
    pub user_id: String,
}

/// `inviteUserToGroup` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteParams {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Users to add (at most 100).
    pub user_list: Vec<String>,
}

/// `kickGroupMember` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KickParams {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Members to remove (at most 100).
    pub member_list: Vec<String>,
    /// Optional reason (accepted for V2TIM compatibility; not stored or forwarded).
    #[serde(default)]
    pub reason: String,
}

/// `getGroupMemberList` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberListParams {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// 0 all, 1 owner, 2 admins, 4 ordinary members (V2TIMGroupMemberFilter).
    #[serde(default)]
    pub filter: u32,
    /// 0 for the first page, then the previous page's `nextSeq`.
    #[serde(default)]
    pub next_seq: u64,
    /// Page size, 1 to 100 (default 100).
    #[serde(default = "default_page")]
    pub count: u32,
}

fn default_page() -> u32 {
    100
}

/// `getGroupMemberList` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMemberListResult {
    /// 0 when finished, otherwise pass back for the next page.
    pub next_seq: u64,
    /// This page.
    pub member_info_list: Vec<GroupMemberInfo>,
}

/// `getGroupsInfo` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupsInfoParams {
    /// Groups to describe (at most 100).
    #[serde(rename = "groupIDList")]
    pub group_id_list: Vec<String>,
}

/// `cleanConversationUnreadMessageCount` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanUnreadParams {
    /// `c2c_<userID>` or `group_<groupID>`.
    #[serde(rename = "conversationID")]
    pub conversation_id: String,
    /// C2C: clear up to this Unix time; 0 = everything.
    #[serde(default)]
    pub clean_timestamp: i64,
    /// Group: clear up to this sequence; 0 = everything.
    #[serde(default)]
    pub clean_sequence: u64,
}

/// Parameters naming messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageIdListParams {
    /// Message IDs, all of one conversation.
    #[serde(rename = "messageIDList")]
    pub message_id_list: Vec<String>,
}

/// `sendMessageReadReceipts` result: the messages that were skipped, each with the code it would
/// have failed with alone; every other message of the call was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendReceiptsResult {
    /// Skipped messages, in the order of the request (empty when every message was recorded).
    pub skipped_list: Vec<SkippedMessage>,
}

/// A message of a `sendMessageReadReceipts` call that was not recorded, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedMessage {
    /// The message as named in the request.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// The error code it would have failed with alone (10062, 6017 or 10007).
    pub code: u32,
    /// What was wrong.
    pub desc: String,
}

/// `getGroupMessageReadMemberList` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadMemberListParams {
    /// A group message of the caller's that asked for receipts.
    #[serde(rename = "messageID")]
    pub message_id: String,
    /// 0 = members who read it, 1 = members who did not.
    pub filter: u32,
    /// 0 for the first page, then the previous page's `nextSeq`.
    #[serde(default)]
    pub next_seq: u64,
    /// Page size, 1 to 100.
    #[serde(default = "default_page")]
    pub count: u32,
}

/// `getGroupMessageReadMemberList` filter: members who read the message.
pub const READ_MEMBERS_FILTER_READ: u32 = 0;
/// `getGroupMessageReadMemberList` filter: members who did not.
pub const READ_MEMBERS_FILTER_UNREAD: u32 = 1;

/// `getGroupMessageReadMemberList` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadMemberListResult {
    /// This page.
    pub member_info_list: Vec<ReadMemberInfo>,
    /// Pass back for the next page.
    pub next_seq: u64,
    /// No more pages.
    pub is_finished: bool,
}

/// `setSelfInfo` parameters (V2TIMUserFullInfo's settable fields): each field given replaces the
/// stored one, each absent one stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetSelfInfoParams {
    /// Nickname, at most [`crate::MAX_PROFILE_VALUE_BYTES`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    /// Profile picture URL, at most [`crate::MAX_PROFILE_VALUE_BYTES`] bytes.
    #[serde(rename = "faceURL", default, skip_serializing_if = "Option::is_none")]
    pub face_url: Option<String>,
    /// Self-signature, at most [`crate::MAX_PROFILE_VALUE_BYTES`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_signature: Option<String>,
    /// Gender: 0 unknown, 1 male, 2 female (V2TIMGender); another number is refused with 40605.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<u32>,
    /// Custom fields to set, by name without Tencent's `Tag_Profile_Custom_` prefix; an empty
    /// value removes the field, fields not named stay.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub custom_info: std::collections::BTreeMap<String, String>,
    /// Whether the caller's read receipts are private (a Tidings extension; as
    /// `setReceiptPrivacy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_read_receipts: Option<bool>,
}

/// `getUsersInfo` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersInfoParams {
    /// The users (1 to [`crate::MAX_USERS_INFO`]).
    #[serde(rename = "userIDList")]
    pub user_id_list: Vec<String>,
}

/// `setGroupMemberInfo` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetGroupMemberInfoParams {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// The member.
    #[serde(rename = "userID")]
    pub user_id: String,
    /// The member's name card in the group, at most [`crate::MAX_NAME_CARD_BYTES`] bytes
    /// (empty clears it).
    pub name_card: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_wire_name_and_is_found_by_it() {
        let names: Vec<&str> = MethodKind::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, ALL_METHODS);
        for &method in MethodKind::ALL {
            assert_eq!(MethodKind::from_name(method.name()), Some(method));
        }
        assert_eq!(MethodKind::from_name("SendMessage"), None);
        assert_eq!(MethodKind::from_name(""), None);
    }

    #[test]
    fn an_empty_receiver_or_group_id_is_absent() {
        let params: SendMessageParams =
            serde_json::from_str(r#"{"receiver": "", "groupID": "g", "textElem": {"text": "x"}}"#)
                .unwrap();
        assert_eq!(params.receiver, None);
        assert_eq!(params.group_id, Some("g".to_owned()));
        let params: SendMessageParams = serde_json::from_str(
            r#"{"receiver": "bob", "groupID": "", "textElem": {"text": "x"}}"#,
        )
        .unwrap();
        assert_eq!(params.receiver, Some("bob".to_owned()));
        assert_eq!(params.group_id, None);
    }

    #[test]
    fn the_snapshots_are_the_reads_of_state_that_pushes_carry() {
        let snapshots: Vec<&str> = MethodKind::ALL
            .iter()
            .filter(|m| m.is_snapshot())
            .map(|m| m.name())
            .collect();
        assert_eq!(
            snapshots,
            [
                "getC2CHistoryMessageList",
                "getGroupHistoryMessageList",
                "getConversationList",
                "getConversation",
                "getTotalUnreadMessageCount",
                "getGroupMemberList",
                "getJoinedGroupList",
                "getGroupsInfo",
                "getMessageReadReceipts",
                "getGroupMessageReadMemberList",
                "getUserStatus",
            ]
        );
    }
}

/// `setReceiptPrivacy` parameters and `getReceiptPrivacy` result (a Tidings extension).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPrivacy {
    /// Whether the user's read receipts are private: they clear the user's own unread state and
    /// reach the user's own devices, and nobody else sees them.
    pub private_read_receipts: bool,
}

/// `revokeMessage` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeMessageParams {
    /// The message to recall.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// Why (shown to everyone as the message's `revokeReason`), at most
    /// [`crate::MAX_REVOKE_REASON_BYTES`] bytes.
    #[serde(default)]
    pub reason: String,
}
