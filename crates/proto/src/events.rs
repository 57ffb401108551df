//! Every push event: its wire name and payload type.

use serde::Deserialize;
use serde::{Serialize, de::DeserializeOwned};

use crate::model::*;

/// A push event. The server encodes `Data`; the SDK decodes it.
pub trait Event {
    /// The wire name, e.g. `onRecvNewMessage`.
    const NAME: &'static str;
    /// The `data` of the push.
    type Data: Serialize + DeserializeOwned + Send + 'static;

    /// The push of this event with `data`.
    fn push(data: Self::Data) -> PushEvent;
}

macro_rules! events {
    ($($(#[$doc:meta])* $marker:ident = $name:literal ($data:ty);)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $marker;
            impl Event for $marker {
                const NAME: &'static str = $name;
                type Data = $data;

                fn push(data: $data) -> PushEvent {
                    PushEvent::$marker(data)
                }
            }
        )*
        /// Every event name the server sends, for documentation tests.
        pub const ALL_EVENTS: &[&str] = &[$($name),*];

        /// One push as a typed value: the event and its data. Serialized, it is the push frame
        /// `{"event": <name>, "data": <payload>}` ([`crate::Push`]), so a node can hand it on
        /// typed and each edge encodes it with [`PushEvent::encode`].
        // A push is built once and shared behind an `Arc`, never moved per recipient, so the
        // size of its largest variant (a message) costs nothing.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "event", content = "data")]
        pub enum PushEvent {
            $(
                $(#[$doc])*
                #[serde(rename = $name)]
                $marker($data),
            )*
        }

        impl PushEvent {
            /// The event's wire name, e.g. `onRecvNewMessage`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$marker(_) => $name,)*
                }
            }
        }
    };
}

impl PushEvent {
    /// The push frame's JSON text.
    pub fn encode(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}

events! {
    /// A new message in one of the user's conversations, including the user's own messages sent
    /// from another device (and from this one).
    OnRecvNewMessage = "onRecvNewMessage" (Message);
    /// Conversations whose unread count or last message changed.
    OnConversationChanged = "onConversationChanged" (Vec<Conversation>);
    /// Conversations that appeared in the user's list: the first message between two users,
    /// or a group the user joined.
    OnNewConversation = "onNewConversation" (Vec<Conversation>);
    /// The sum of the unread counts of the user's conversations changed (V2TIM's
    /// `onTotalUnreadMessageCountChanged(totalUnreadCount)`): the new total.
    OnTotalUnreadMessageCountChanged = "onTotalUnreadMessageCountChanged" (u64);
    /// This connection was logged out because the user logged in on too many devices, or by an
    /// administrator.
    OnKickedOffline = "onKickedOffline" (KickedOffline);
    /// The session's UserSig expired; log in again with a fresh one.
    OnUserSigExpired = "onUserSigExpired" (UserSigExpired);
    /// Users joined a group by themselves, or with its creation.
    OnMemberEnter = "onMemberEnter" (MemberEnter);
    /// Users were added to a group by a member or the administrator.
    OnMemberInvited = "onMemberInvited" (MemberInvited);
    /// A member left a group.
    OnMemberLeave = "onMemberLeave" (MemberLeave);
    /// Members were removed by an owner, an admin or the administrator.
    OnMemberKicked = "onMemberKicked" (MemberKicked);
    /// The group was dismissed.
    OnGroupDismissed = "onGroupDismissed" (GroupDismissed);
    /// Message-level read receipts arrived for the user's own messages.
    OnRecvMessageReadReceipts = "onRecvMessageReadReceipts" (Vec<MessageReceipt>);
    /// A C2C peer marked the conversation read.
    OnRecvC2cReadReceipt = "onRecvC2CReadReceipt" (Vec<C2cReadReceipt>);
    /// Another device of the user sent receipts for these messages (multi-device sync).
    OnMessageReceiptsSent = "onMessageReceiptsSent" (ReceiptsSent);
    /// A message of one of the user's conversations was recalled.
    OnRecvMessageRevoked = "onRecvMessageRevoked" (MessageRevoked);
    /// Users the user subscribed to went online or offline or changed their custom status; or
    /// the user's own custom status changed on another device.
    OnUserStatusChanged = "onUserStatusChanged" (Vec<UserStatus>);
}

/// `onRecvMessageRevoked` payload (V2TIM's `onRecvMessageRevoked(msgID, operateUser, reason)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRevoked {
    /// The recalled message.
    #[serde(rename = "msgID")]
    pub msg_id: String,
    /// Who recalled it: the sender, a group owner or admin, or the App administrator.
    pub operate_user: ReadMemberInfo,
    /// Why (may be empty).
    pub reason: String,
}

/// `onKickedOffline` payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KickedOffline {
    /// Why the connection was logged out.
    pub reason: String,
}

/// `onUserSigExpired` payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSigExpired {}

/// `onMemberEnter` payload (V2TIM's `onMemberEnter(groupID, memberList)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberEnter {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// The members who entered.
    pub member_list: Vec<ReadMemberInfo>,
}

/// `onMemberInvited` payload (V2TIM's `onMemberInvited(groupID, opUser, memberList)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberInvited {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Who added them.
    pub op_user: ReadMemberInfo,
    /// The members added.
    pub member_list: Vec<ReadMemberInfo>,
}

/// `onMemberLeave` payload (V2TIM's `onMemberLeave(groupID, member)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberLeave {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// The member who left.
    pub member: ReadMemberInfo,
}

/// `onMemberKicked` payload (V2TIM's `onMemberKicked(groupID, opUser, memberList)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberKicked {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Who removed them.
    pub op_user: ReadMemberInfo,
    /// The members removed.
    pub member_list: Vec<ReadMemberInfo>,
}

/// `onGroupDismissed` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDismissed {
    /// The group.
    #[serde(rename = "groupID")]
    pub group_id: String,
    /// Who dismissed it.
    pub op_user: String,
}

/// `onMessageReceiptsSent` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptsSent {
    /// The messages now receipted by this user.
    #[serde(rename = "messageIDList")]
    pub message_id_list: Vec<String>,
}

#[cfg(test)]
mod tests;
