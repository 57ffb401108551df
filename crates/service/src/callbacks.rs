//! After-events (Tencent's "third-party callbacks"): what happened, with whom, from where. The
//! service emits them as typed domain values through the [`Callbacks`] trait; the edge turns
//! them into Tencent's callback bodies and delivers them as webhooks, off the message path.

use std::future::Future;

use tidings_proto::GroupType;
use tidings_store::MessageRecord;

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

/// Receives after-events. Implementations must not block: queue and return.
pub trait Callbacks: Send + Sync + 'static {
    /// Whether events are wanted at all (a webhook is configured); when not, the service does
    /// not even build them.
    fn wants(&self) -> bool;

    /// Queues an event for delivery.
    fn emit(&self, event: CallbackEvent);
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
