//! After-event callbacks (Tencent's "third-party callbacks"): what happened, with whom, from
//! where. The service emits them through the [`Callbacks`] trait; the edge delivers them as
//! webhooks, off the message path.

use std::future::Future;

use serde_json::Value;
use tidings_proto::GroupType;

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
pub(crate) fn current_origin() -> Origin {
    ORIGIN.try_with(Clone::clone).unwrap_or(Origin {
        client_ip: String::new(),
        platform: "Unknown",
        operator: None,
    })
}

/// One after-event.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackEvent {
    /// Tencent's `CallbackCommand`, e.g. `C2C.CallbackAfterSendMsg`.
    pub command: &'static str,
    /// Where the triggering request came from.
    pub origin: Origin,
    /// The body fields (Tencent's names), without `CallbackCommand`.
    pub body: serde_json::Map<String, Value>,
    /// A user whose total C2C unread count the deliverer adds as `UnreadMsgNum` before sending
    /// (computed off the message path).
    pub unread_total_of: Option<String>,
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

/// Tencent's REST and callback name of a group type: `Private` (V2TIM's Work), `Public`,
/// `ChatRoom` (V2TIM's Meeting), `AVChatRoom`, `Community`.
pub fn tencent_group_type(group_type: GroupType) -> &'static str {
    match group_type {
        GroupType::Work => "Private",
        GroupType::Meeting => "ChatRoom",
        other => other.as_str(),
    }
}

/// Builds an event from the current origin; the body gets Tencent's `EventTime` (Unix
/// milliseconds) unless it has one.
pub(crate) fn event(
    command: &'static str,
    body: Value,
    unread_total_of: Option<&str>,
) -> CallbackEvent {
    let mut body = match body {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    body.entry("EventTime")
        .or_insert_with(|| Value::from(crate::now_millis()));
    CallbackEvent {
        command,
        origin: current_origin(),
        body,
        unread_total_of: unread_total_of.map(str::to_owned),
    }
}
