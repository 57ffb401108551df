//! Rust client SDK for Tidings, with the API of Tencent Cloud IM's V2TIM.
//!
//! [`Client::connect`] opens a WebSocket to the server and logs in; it returns a [`Client`],
//! whose methods are V2TIM's in snake_case (`sendMessage` is [`Client::send_message`]), and an
//! [`Events`] stream carrying what V2TIM delivers to its listeners (`onRecvNewMessage` is
//! [`SdkEvent::RecvNewMessage`]).
//!
//! ```no_run
//! use tidings_sdk::{Client, SdkEvent, SendMessageParams, TextElem};
//!
//! # async fn quickstart() -> Result<(), tidings_sdk::SdkError> {
//! let (client, mut events) =
//!     Client::connect("ws://127.0.0.1:8080/ws", "alice", "<alice's UserSig>").await?;
//!
//! let message = client
//!     .send_message(SendMessageParams {
//!         receiver: Some("bob".into()),
//!         text_elem: Some(TextElem { text: "Hello, Bob!".into() }),
//!         need_read_receipt: true,
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("sent {} (seq {})", message.msg_id, message.seq);
//!
//! while let Some(event) = events.recv().await {
//!     match event {
//!         SdkEvent::RecvNewMessage(message) => {
//!             println!("{}: {:?}", message.sender, message.text_elem.map(|t| t.text));
//!         }
//!         SdkEvent::RecvMessageReadReceipts(receipts) => {
//!             for receipt in receipts {
//!                 if receipt.group_id.is_empty() {
//!                     println!("{} read by {}: {}", receipt.msg_id, receipt.user_id, receipt.is_peer_read);
//!                 } else {
//!                     println!("{}: {} read, {} not", receipt.msg_id, receipt.read_count, receipt.unread_count);
//!                 }
//!             }
//!         }
//!         SdkEvent::ConnectionLost { reason } => println!("reconnecting ({reason})"),
//!         SdkEvent::Reconnected => println!("back online"),
//!         _ => {}
//!     }
//! }
//! client.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Connection handling
//!
//! One background task owns the socket. It pings the server every 20 seconds and treats a
//! connection silent for two intervals as lost. When the connection drops, the client emits
//! [`SdkEvent::ConnectionLost`], reconnects with exponential backoff (100 ms doubling to 5 s),
//! logs in again with the same UserSig, then emits [`SdkEvent::ConversationChanged`] with every
//! conversation followed by [`SdkEvent::Reconnected`], and then the messages missed meanwhile
//! (see below). Calls in flight when the connection dropped fail
//! with [`SdkError::Disconnected`]; calls made while reconnecting wait for the new session.
//!
//! # Message order
//!
//! Within each conversation, [`SdkEvent::RecvNewMessage`] hands messages over in `seq` order,
//! each once, even where pushes arrive out of order or are lost (senders on different nodes of
//! a cluster, a node that lost its bus). The client follows every conversation from the
//! conversation list it reads after each login; a message whose predecessors have not arrived
//! waits for them ([`ClientOptions::gap_wait`]), then they are fetched from history and handed
//! over first. Messages history no longer has are reported as [`SdkEvent::MessageGap`]. After a
//! reconnect, the messages a followed conversation received meanwhile follow
//! [`SdkEvent::Reconnected`] (the newest 100 per conversation; older ones as a gap). The client's
//! own sent messages take their place too (they are handed over once, from the `sendMessage`
//! answer or its echo, whichever comes first). `onlineUserOnly` messages are not in history and are
//! handed over as they arrive. `docs/protocol.md` §14.1 has the server's side and the bounds.
//!
//! The client stops for good, ending the event stream and failing every call, after
//! [`Client::close`], after [`SdkEvent::KickedOffline`] or [`SdkEvent::UserSigExpired`], when
//! logging in again is refused, when the connection drops after [`Client::logout`], or when every
//! [`Client`] clone is dropped. Connect anew to continue.
//!
//! The wire types come from [`tidings_proto`], re-exported as [`proto`]; the ones the typed
//! methods take and return are also re-exported here.

#![warn(missing_docs)]

mod api;
mod backoff;
mod catch_up;
mod client;
mod command;
mod connection;
mod error;
mod events;
mod handshake;
mod options;
mod ordering;
mod wire;

pub use client::Client;
pub use error::SdkError;
pub use events::{Events, SdkEvent};
pub use options::ClientOptions;

pub use tidings_proto as proto;
pub use tidings_proto::events::{
    GroupDismissed, KickedOffline, MemberEnter, MemberInvited, MemberKicked, MemberLeave,
    MessageRevoked, ReceiptsSent,
};
pub use tidings_proto::methods::{
    ConversationListResult, CreateGroupParams, GroupMemberListResult, READ_MEMBERS_FILTER_READ,
    READ_MEMBERS_FILTER_UNREAD, ReadMemberListResult, SendMessageParams, SendReceiptsResult,
    SetSelfInfoParams, SkippedMessage,
};
pub use tidings_proto::{
    C2cReadReceipt, Conversation, CustomElem, ELEM_TYPE_CUSTOM, ELEM_TYPE_FACE, ELEM_TYPE_FILE,
    ELEM_TYPE_IMAGE, ELEM_TYPE_LOCATION, ELEM_TYPE_MERGER, ELEM_TYPE_SOUND, ELEM_TYPE_TEXT,
    ELEM_TYPE_VIDEO, Elem, ErrorCode, FaceElem, FileElem, Gender, GroupInfo, GroupInfoResult,
    GroupMemberInfo, GroupMemberSpec, GroupRole, GroupType, IMAGE_TYPE_LARGE, IMAGE_TYPE_ORIGIN,
    IMAGE_TYPE_THUMB, Image, ImageElem, LocationElem, MEMBER_OP_FAIL, MEMBER_OP_INVALID,
    MEMBER_OP_SUCCESS, MemberOperationResult, MergedMessage, MergerElem, Message, MessageReceipt,
    ReadMemberInfo, RichElems, SoundElem, TextElem, UserFullInfo, VideoElem,
};
