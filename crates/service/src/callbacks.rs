//! Tencent's "third-party callbacks" as domain values. After-events (what happened, with whom,
//! from where) are emitted through the [`Callbacks`] trait; the edge turns them into Tencent's
//! callback bodies and delivers them as webhooks, off the message path. Before-send hooks
//! ([`BeforeSend`]) are the one exception on the message path: the service asks the app's
//! backend, through the same trait, whether a message may go out, and waits for its
//! [`Verdict`] before storing anything.

use std::future::Future;
use std::pin::Pin;

use tidings_proto::{Elem, GroupType};
use tidings_store::{MessageRecord, NewMessage};

/// Where a request came from, set by the edge around each request (see [`with_origin`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// The client's IP address.
    pub client_ip: String,
    /// Tencent's `OptPlatform`: `RESTAPI`, `Web`, `Unknown`…
    pub platform: &'static str,
    /// The account that made the request when it acts for another (REST: the App
    /// administrator); None when users act for themselves.
    pub operator: Option<String>,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `future` with `origin` as the origin of the callbacks it emits.
pub async fn with_origin<F: Future>(origin: Origin, future: F) -> F::Output {
    ORIGIN.scope(origin, future).await
}

/// The origin of the request being served (empty outside [`with_origin`]).
fn current_origin() -> Origin {
    ORIGIN.try_with(Clone::clone).unwrap_or(Origin {
        client_ip: String::new(),
        platform: "Unknown",
        operator: None,
    })
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterEvent {
    /// A C2C message was sent (and stored, unless it was for online users only).
    C2cMessageSent {
        /// The message as stored (sequence 0 when online only).
        message: MessageRecord,
        /// It went to online sessions only and is not in history.
        online_only: bool,
    },
    /// A group message was sent (and stored, unless it was for online members only).
    GroupMessageSent {
        /// The group's type.
        group_type: GroupType,
        /// The message as stored (sequence 0 when online only).
        message: MessageRecord,
        /// It went to online sessions only and is not in history.
        online_only: bool,
    },
    /// A user marked a C2C conversation read (conversation-level read position).
    C2cReadReported {
        /// Who read.
        reader: String,
        /// The other side of the conversation.
        peer: String,
        /// The reader's read time now, Unix seconds.
        read_time: i64,
    },
    /// A member sent receipts for group messages, which changed their counts.
    GroupReceiptsSent {
        /// The group.
        group_id: String,
        /// The group's type.
        group_type: GroupType,
        /// Who sent the receipts.
        reader: String,
        /// The messages newly read by `reader`, with their counts after it.
        receipts: Vec<GroupReceiptCount>,
    },
}

/// A group message's receipt counts after a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupReceiptCount {
    /// The message's sequence in its group.
    pub seq: u64,
    /// Recipients who read it.
    pub read: u64,
    /// Recipients who did not.
    pub unread: u64,
}

/// One after-event as emitted: what happened, when, and where the request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackEvent {
    /// What happened.
    pub event: AfterEvent,
    /// Where the triggering request came from.
    pub origin: Origin,
    /// When it happened, Unix milliseconds.
    pub time_millis: i64,
}

impl BeforeSendEvent {
    /// The question, now, from the current request's origin.
    pub(crate) fn now(event: BeforeSend) -> Self {
        Self {
            event,
            origin: current_origin(),
            time_millis: crate::now_millis(),
        }
    }
}

impl CallbackEvent {
    /// The event, now, from the current request's origin.
    pub(crate) fn now(event: AfterEvent) -> Self {
        Self {
            event,
            origin: current_origin(),
            time_millis: crate::now_millis(),
        }
    }
}

/// A message about to be sent, which the app's backend may allow, change or refuse (Tencent's
/// `C2C.CallbackBeforeSendMsg`, `Group.CallbackBeforeSendMsg`). It has passed every check of
/// the service and is not stored yet: it has its ID and time but no sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforeSend {
    /// A C2C message.
    C2c {
        /// The message as it would be stored.
        message: NewMessage,
        /// It would go to online sessions only.
        online_only: bool,
    },
    /// A group message.
    Group {
        /// The group's type.
        group_type: GroupType,
        /// The message as it would be stored.
        message: NewMessage,
        /// It would go to online members only.
        online_only: bool,
    },
}

impl BeforeSend {
    /// Whether it is a group message.
    pub fn is_group(&self) -> bool {
        matches!(self, Self::Group { .. })
    }
}

/// A before-send question as asked: the message, when, and where the request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeforeSendEvent {
    /// The message about to be sent.
    pub event: BeforeSend,
    /// Where the sending request came from.
    pub origin: Origin,
    /// When it was asked, Unix milliseconds.
    pub time_millis: i64,
}

/// Content the app's backend put in place of a message's (a changed `MsgBody`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedContent {
    /// One element.
    Elem(Elem),
    /// Other elements, stored verbatim: the V2TIM type of the first and the JSON array.
    Elements {
        /// V2TIM element type of the first element.
        elem_type: u32,
        /// The element array as JSON text.
        json: String,
    },
}

/// What the app's backend decided about a message (or the configured default when it could
/// not be asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send it as it is.
    Allow,
    /// Send it with these changes (`None`: that part unchanged).
    Change {
        /// The new content.
        content: Option<ChangedContent>,
        /// The new `cloudCustomData`.
        cloud_custom_data: Option<String>,
    },
    /// Do not send it; the sender is refused.
    Deny {
        /// The backend's own code (Tencent lets it choose one in 120001–130000, passed to the
        /// sender as is); `None` for a plain refusal.
        app_code: Option<u32>,
        /// Why, for the sender (empty: the server says the backend refused it).
        info: String,
    },
    /// Drop it silently: the sender is told it was sent, nothing is stored or delivered.
    Discard,
}

/// The future of a before-send question.
pub type VerdictFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

/// Receives after-events and answers before-send questions. `emit` must not block: queue and
/// return.
pub trait Callbacks: Send + Sync + 'static {
    /// Whether events are wanted at all (a webhook is configured); when not, the service does
    /// not even build them.
    fn wants(&self) -> bool;

    /// Queues an event for delivery.
    fn emit(&self, event: CallbackEvent);

    /// Whether messages of this kind (group or C2C) are to be asked about before they are sent;
    /// when not, the service neither builds the question nor waits.
    fn wants_before_send(&self, _group: bool) -> bool {
        false
    }

    /// Asks whether a message may be sent. It is awaited on the sending request's path, so an
    /// implementation bounds its own wait and answers a default when it cannot ask.
    fn before_send(&self, _event: BeforeSendEvent) -> VerdictFuture<'_> {
        Box::pin(std::future::ready(Verdict::Allow))
    }
}

/// Discards every event (no webhook configured, or tests of other things).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCallbacks;

impl Callbacks for NoCallbacks {
    fn wants(&self) -> bool {
        false
    }

    fn emit(&self, _event: CallbackEvent) {}
}
