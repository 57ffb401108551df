//! [`SdkEvent`], the decoded server pushes and connection changes, and the [`Events`] stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Deserialize as _;
use serde_json::Value;
use tidings_proto::events::{
    GroupDismissed, KickedOffline, MemberEnter, MemberInvited, MemberKicked, MemberLeave,
    MessageRevoked, OnConversationChanged, OnGroupDismissed, OnKickedOffline, OnMemberEnter,
    OnMemberInvited, OnMemberKicked, OnMemberLeave, OnMessageReceiptsSent, OnNewConversation,
    OnRecvC2cReadReceipt, OnRecvMessageReadReceipts, OnRecvMessageRevoked, OnRecvNewMessage,
    OnTotalUnreadMessageCountChanged, OnUserSigExpired, OnUserStatusChanged, ReceiptsSent,
};
use tidings_proto::{
    C2cReadReceipt, Conversation, Event, Message, MessageReceipt, Push, UserStatus,
};
use tokio::sync::mpsc;

/// What the server pushed, or what happened to the connection. The push variants are V2TIM's
/// listener callbacks without their `on` prefix.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "each event is moved once from the socket task to the application; boxing the message would only complicate matching"
)]
pub enum SdkEvent {
    /// `onRecvNewMessage`: a new message in one of the user's conversations, including the user's
    /// own messages (from this and other devices, and the ones this client sent).
    ///
    /// Within a conversation, messages come in `seq` order, each once: a message whose
    /// predecessors have not arrived is held for [`crate::ClientOptions::gap_wait`], then the
    /// missing ones are fetched from history and handed over first. What history does not have
    /// is reported as [`SdkEvent::MessageGap`]. After a reconnect, the messages of tracked
    /// conversations that arrived meanwhile follow [`SdkEvent::Reconnected`] here (up to 100 per
    /// conversation). `onlineUserOnly` messages (`seq` 0) are not in history and have no place in
    /// the order: they are handed over as they arrive, and are lost while disconnected.
    RecvNewMessage(Message),
    /// Messages `first_seq..=last_seq` of a conversation will not be delivered as
    /// [`SdkEvent::RecvNewMessage`]: they were missed and history does not have them (deleted,
    /// or not visible to this user), or a reconnect found more than 100 missed messages in the
    /// conversation (the older ones are reported here; load them with the history methods if
    /// the app shows them). Messages after the gap follow.
    MessageGap {
        /// `c2c_<userID>` or `group_<groupID>`.
        conversation_id: String,
        /// The first `seq` not delivered.
        first_seq: u64,
        /// The last `seq` not delivered.
        last_seq: u64,
    },
    /// `onConversationChanged`: conversations whose unread count or last message changed. After a
    /// reconnect the client emits it once with *every* conversation (just before
    /// [`SdkEvent::Reconnected`]).
    ConversationChanged(Vec<Conversation>),
    /// `onNewConversation`: conversations that appeared in the user's list (the first message
    /// between two users, a group the user became a member of), in the user's view.
    NewConversation(Vec<Conversation>),
    /// `onTotalUnreadMessageCountChanged`: the sum of the unread counts of the user's
    /// conversations changed; the new total (what `get_total_unread_message_count` answers).
    TotalUnreadMessageCountChanged(u64),
    /// `onKickedOffline`: the server logged this connection out. The client stops: the stream
    /// ends after this event and calls fail with [`crate::SdkError::KickedOffline`].
    KickedOffline(KickedOffline),
    /// `onUserSigExpired`: the UserSig expired. The client stops: the stream ends after this event
    /// and calls fail with a [`crate::SdkError::Server`] carrying
    /// [`tidings_proto::ErrorCode::UserSigExpired`]. Connect again with a fresh UserSig.
    UserSigExpired,
    /// `onMemberEnter`: users joined a group by themselves (or with its creation).
    MemberEnter(MemberEnter),
    /// `onMemberInvited`: users were added to a group by someone else.
    MemberInvited(MemberInvited),
    /// `onMemberLeave`: a member left a group.
    MemberLeave(MemberLeave),
    /// `onMemberKicked`: members were removed from a group.
    MemberKicked(MemberKicked),
    /// `onGroupDismissed`: a group was dismissed.
    GroupDismissed(GroupDismissed),
    /// `onRecvMessageReadReceipts`: message-level read receipts for the user's own messages.
    /// C2C items (empty `group_id`) name the reader in `user_id`, with `is_peer_read` and the
    /// receipt's `timestamp`; group items carry the current `read_count` and `unread_count`.
    /// The fields that do not apply are empty or 0.
    RecvMessageReadReceipts(Vec<MessageReceipt>),
    /// `onRecvC2CReadReceipt`: C2C peers marked their conversation with the user read (the
    /// conversation-level mechanism behind [`Message::is_peer_read`], not message receipts).
    RecvC2cReadReceipt(Vec<C2cReadReceipt>),
    /// `onMessageReceiptsSent`: another device of the user sent read receipts.
    MessageReceiptsSent(ReceiptsSent),
    /// `onRecvMessageRevoked`: a message of one of the user's conversations was recalled; its
    /// history entry now has status 6 and no element.
    RecvMessageRevoked(MessageRevoked),
    /// `onUserStatusChanged`: users this one subscribed to went online or offline or changed
    /// their custom status, or the user's own custom status changed on another device.
    UserStatusChanged(Vec<UserStatus>),
    /// The connection dropped. The client reconnects by itself: calls made meanwhile wait for the
    /// new session (up to the request timeout). Only after [`crate::Client::logout`], or with
    /// [`crate::ClientOptions::auto_reconnect`] off, it stops instead and the stream ends.
    ConnectionLost {
        /// What ended the connection.
        reason: String,
    },
    /// The client reconnected and logged in again, and has emitted
    /// [`SdkEvent::ConversationChanged`] with every conversation. The messages that conversations
    /// followed before received meanwhile come next as [`SdkEvent::RecvNewMessage`] (the newest
    /// 100 per conversation; older ones are reported as [`SdkEvent::MessageGap`]). Conversations
    /// new to this client show their latest state in the `ConversationChanged` list only.
    Reconnected,
    /// A push this SDK version does not know, or whose payload it cannot decode; passed on as
    /// received so that nothing is lost.
    Unknown {
        /// The wire name of the event.
        event: String,
        /// Its payload.
        data: Value,
    },
}

impl SdkEvent {
    /// Decodes a push by its event name, using the proto [`Event`] markers.
    pub fn from_push(push: Push) -> Self {
        let Push { event, data } = push;
        let decoded = match event.as_str() {
            OnRecvNewMessage::NAME => decode::<OnRecvNewMessage>(&data).map(Self::RecvNewMessage),
            OnConversationChanged::NAME => {
                decode::<OnConversationChanged>(&data).map(Self::ConversationChanged)
            }
            OnNewConversation::NAME => {
                decode::<OnNewConversation>(&data).map(Self::NewConversation)
            }
            OnTotalUnreadMessageCountChanged::NAME => {
                decode::<OnTotalUnreadMessageCountChanged>(&data)
                    .map(Self::TotalUnreadMessageCountChanged)
            }
            OnKickedOffline::NAME => decode::<OnKickedOffline>(&data).map(Self::KickedOffline),
            OnUserSigExpired::NAME => {
                decode::<OnUserSigExpired>(&data).map(|_| Self::UserSigExpired)
            }
            OnMemberEnter::NAME => decode::<OnMemberEnter>(&data).map(Self::MemberEnter),
            OnMemberInvited::NAME => decode::<OnMemberInvited>(&data).map(Self::MemberInvited),
            OnMemberLeave::NAME => decode::<OnMemberLeave>(&data).map(Self::MemberLeave),
            OnMemberKicked::NAME => decode::<OnMemberKicked>(&data).map(Self::MemberKicked),
            OnGroupDismissed::NAME => decode::<OnGroupDismissed>(&data).map(Self::GroupDismissed),
            OnRecvMessageReadReceipts::NAME => {
                decode::<OnRecvMessageReadReceipts>(&data).map(Self::RecvMessageReadReceipts)
            }
            OnRecvC2cReadReceipt::NAME => {
                decode::<OnRecvC2cReadReceipt>(&data).map(Self::RecvC2cReadReceipt)
            }
            OnMessageReceiptsSent::NAME => {
                decode::<OnMessageReceiptsSent>(&data).map(Self::MessageReceiptsSent)
            }
            OnRecvMessageRevoked::NAME => {
                decode::<OnRecvMessageRevoked>(&data).map(Self::RecvMessageRevoked)
            }
            OnUserStatusChanged::NAME => {
                decode::<OnUserStatusChanged>(&data).map(Self::UserStatusChanged)
            }
            _ => return Self::Unknown { event, data },
        };
        decoded.unwrap_or_else(|e| {
            tracing::warn!(%event, error = %e, "cannot decode push; passing it on as Unknown");
            Self::Unknown { event, data }
        })
    }
}

fn decode<E: Event>(data: &Value) -> Result<E::Data, serde_json::Error> {
    E::Data::deserialize(data)
}

/// The stream of [`SdkEvent`]s of one [`crate::Client`], in the order the server sent them.
///
/// It is backed by an unbounded channel: events are never dropped, and they queue up in memory
/// while the application is not reading. Read it continuously. The stream ends when the client
/// stops: after [`crate::Client::close`], after [`SdkEvent::KickedOffline`] or
/// [`SdkEvent::UserSigExpired`], when reconnecting becomes hopeless, or when every `Client`
/// clone is dropped.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<SdkEvent>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<SdkEvent>) -> Self {
        Self { rx }
    }

    /// The next event; `None` once the client has stopped and every event was read.
    pub async fn recv(&mut self) -> Option<SdkEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already waiting.
    pub fn try_recv(&mut self) -> Option<SdkEvent> {
        self.rx.try_recv().ok()
    }
}

impl futures_util::Stream for Events {
    type Item = SdkEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SdkEvent>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tidings_proto::ReadMemberInfo;
    use tidings_proto::events::ALL_EVENTS;

    use super::*;

    fn push(event: &str, data: Value) -> Push {
        Push {
            event: event.into(),
            data,
        }
    }

    fn message_json() -> Value {
        json!({
            "msgID": "m1", "timestamp": 1_700_000_000, "seq": 1, "random": 0, "sender": "alice",
            "userID": "alice", "isSelf": false, "isRead": false, "isPeerRead": false,
            "receiptPeerRead": false, "needReadReceipt": true, "hasSentReceipt": false,
            "isExcludedFromUnreadCount": false, "elemType": 1, "textElem": {"text": "hi"},
            "cloudCustomData": "", "status": 2
        })
    }

    #[test]
    fn decodes_a_new_message() {
        let SdkEvent::RecvNewMessage(msg) =
            SdkEvent::from_push(push("onRecvNewMessage", message_json()))
        else {
            panic!("wrong variant");
        };
        assert_eq!(msg.msg_id, "m1");
        assert!(msg.need_read_receipt);
        assert_eq!(msg.text_elem.map(|t| t.text).as_deref(), Some("hi"));
    }

    #[test]
    fn decodes_payloads_of_other_events() {
        assert_eq!(
            SdkEvent::from_push(push(
                "onKickedOffline",
                json!({"reason": "too many devices"})
            )),
            SdkEvent::KickedOffline(KickedOffline {
                reason: "too many devices".into()
            })
        );
        assert_eq!(
            SdkEvent::from_push(push("onUserSigExpired", json!({}))),
            SdkEvent::UserSigExpired
        );
        assert_eq!(
            SdkEvent::from_push(push("onTotalUnreadMessageCountChanged", json!(7))),
            SdkEvent::TotalUnreadMessageCountChanged(7)
        );
        assert_eq!(
            SdkEvent::from_push(push(
                "onMemberKicked",
                json!({"groupID": "g", "opUser": {"userID": "o", "nickName": "", "faceURL": ""},
                       "memberList": [{"userID": "b", "nickName": "B", "faceURL": "f"}]})
            )),
            SdkEvent::MemberKicked(MemberKicked {
                group_id: "g".into(),
                op_user: ReadMemberInfo {
                    user_id: "o".into(),
                    nick_name: String::new(),
                    face_url: String::new(),
                    name_card: String::new(),
                },
                member_list: vec![ReadMemberInfo {
                    user_id: "b".into(),
                    nick_name: "B".into(),
                    face_url: "f".into(),
                    name_card: String::new(),
                }],
            })
        );
        assert_eq!(
            SdkEvent::from_push(push(
                "onRecvC2CReadReceipt",
                json!([{"userID": "bob", "timestamp": 5}])
            )),
            SdkEvent::RecvC2cReadReceipt(vec![C2cReadReceipt {
                user_id: "bob".into(),
                timestamp: 5
            }])
        );
    }

    /// The event names `from_push` decodes. Compared with the proto's list, so that an event
    /// added to the protocol without an `SdkEvent` variant fails this test.
    const DECODED: &[&str] = &[
        OnRecvNewMessage::NAME,
        OnConversationChanged::NAME,
        OnNewConversation::NAME,
        OnTotalUnreadMessageCountChanged::NAME,
        OnKickedOffline::NAME,
        OnUserSigExpired::NAME,
        OnMemberEnter::NAME,
        OnMemberInvited::NAME,
        OnMemberLeave::NAME,
        OnMemberKicked::NAME,
        OnGroupDismissed::NAME,
        OnRecvMessageReadReceipts::NAME,
        OnRecvC2cReadReceipt::NAME,
        OnMessageReceiptsSent::NAME,
        OnRecvMessageRevoked::NAME,
        OnUserStatusChanged::NAME,
    ];

    #[test]
    fn every_proto_event_has_a_variant() {
        let mut proto: Vec<&str> = ALL_EVENTS.to_vec();
        let mut decoded: Vec<&str> = DECODED.to_vec();
        proto.sort_unstable();
        decoded.sort_unstable();
        assert_eq!(proto, decoded);
    }

    #[test]
    fn unknown_events_pass_through() {
        let data = json!({"anything": [1, 2, 3]});
        assert_eq!(
            SdkEvent::from_push(push("onFriendListAdded", data.clone())),
            SdkEvent::Unknown {
                event: "onFriendListAdded".into(),
                data
            }
        );
    }

    #[test]
    fn undecodable_payloads_pass_through() {
        let data = json!({"msgID": 42});
        assert_eq!(
            SdkEvent::from_push(push("onRecvNewMessage", data.clone())),
            SdkEvent::Unknown {
                event: "onRecvNewMessage".into(),
                data
            }
        );
    }
}
