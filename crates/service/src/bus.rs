//! Delivery to connections: the `Bus` boundary and the in-process `Hub` of sessions.
//!
//! Services never touch connections. They publish a [`Delivery`] on the [`Bus`]; every node's
//! [`Hub`] hands it to the sessions of the addressed users that it holds. The single-node bus
//! ([`LocalBus`]) hands it straight to the local hub; a cluster bus publishes it to the other
//! nodes as well. A push travels typed ([`PushEvent`]); the hub encodes it when it first queues
//! it for a session, once for all its sessions. Each session's queue
//! ([`outbound_queue`]) is bounded in pushes and in the bytes of their frames.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tidings_proto::PushEvent;
use tokio::sync::mpsc;

/// One push for any number of sessions: the typed event, and its frame text once encoded (when
/// the hub first queues it for a session, which must know its size). Sessions share it through
/// an `Arc`, so a push to a 100,000-member group is encoded once, and a push no session gets is
/// never encoded.
#[derive(Debug)]
pub struct SharedPush {
    event: PushEvent,
    /// The frame text; `None` inside when the event could not be encoded (logged once).
    frame: OnceLock<Option<Box<str>>>,
}

impl SharedPush {
    /// A push of `event`, not encoded yet.
    pub fn new(event: PushEvent) -> Arc<Self> {
        Arc::new(Self {
            event,
            frame: OnceLock::new(),
        })
    }

    /// The typed event.
    pub fn event(&self) -> &PushEvent {
        &self.event
    }

    /// The push frame's JSON text, encoded by the first caller (the first session that writes
    /// it) and shared by the rest; `None` when the event cannot be encoded.
    pub fn frame(&self) -> Option<&str> {
        self.frame
            .get_or_init(|| match self.event.encode() {
                Ok(text) => Some(text.into_boxed_str()),
                Err(e) => {
                    tracing::error!(event = self.event.name(), error = %e, "cannot encode push");
                    None
                }
            })
            .as_deref()
    }
}

/// Pushes are equal when their events are: the frame is only the event encoded.
impl PartialEq for SharedPush {
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event
    }
}

impl Eq for SharedPush {}

/// What a session's outbound queue carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A push, shared by every session it goes to.
    Push(Arc<SharedPush>),
    /// The session must send `onKickedOffline` with this reason and log out.
    Kicked(String),
}

impl Outbound {
    /// What it counts against its queue's byte budget: the frame text of a push (encoding it
    /// if nobody has yet), the reason of a kick.
    fn queued_bytes(&self) -> usize {
        match self {
            Self::Push(push) => push.frame().map_or(0, str::len),
            Self::Kicked(reason) => reason.len(),
        }
    }
}

/// A session's outbound queue: at most `max_pushes` entries, and pushes whose frames add up to
/// at most `max_bytes` (a push into an empty queue is taken whatever its size). The hub holds
/// the sending half; when a push does not fit, the hub drops the session, as a client that
/// cannot keep up must reconnect and catch up anyway, and its queue's memory is freed.
pub fn outbound_queue(max_pushes: usize, max_bytes: usize) -> (OutboundSender, OutboundQueue) {
    let (entries, receiver) = mpsc::channel(max_pushes.max(1));
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let sender = OutboundSender {
        entries,
        queued_bytes: Arc::clone(&queued_bytes),
        max_bytes,
    };
    (
        sender,
        OutboundQueue {
            entries: receiver,
            queued_bytes,
        },
    )
}

/// The hub's end of a session's outbound queue.
#[derive(Debug)]
pub struct OutboundSender {
    entries: mpsc::Sender<Outbound>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

impl OutboundSender {
    /// Queues `outbound` unless the queue is full, in entries or (for a push) in bytes, or
    /// closed. A kick is taken within the byte budget or beyond it: it ends the session.
    fn try_send(&self, outbound: Outbound) -> Result<(), ()> {
        let bytes = outbound.queued_bytes();
        let before = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        let over_budget = before > 0 && before.saturating_add(bytes) > self.max_bytes;
        if (over_budget && matches!(outbound, Outbound::Push(_)))
            || self.entries.try_send(outbound).is_err()
        {
            self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            return Err(());
        }
        Ok(())
    }
}

/// The session's end of its outbound queue.
#[derive(Debug)]
pub struct OutboundQueue {
    entries: mpsc::Receiver<Outbound>,
    queued_bytes: Arc<AtomicUsize>,
}

impl OutboundQueue {
    /// The next entry; `None` once the hub dropped the session and the queue is empty.
    pub async fn recv(&mut self) -> Option<Outbound> {
        let outbound = self.entries.recv().await?;
        self.queued_bytes
            .fetch_sub(outbound.queued_bytes(), Ordering::AcqRel);
        Some(outbound)
    }

    /// The next entry if one is waiting.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let outbound = self.entries.try_recv().ok()?;
        self.queued_bytes
            .fetch_sub(outbound.queued_bytes(), Ordering::AcqRel);
        Some(outbound)
    }

    /// Bytes of the pushes (and kicks) waiting in the queue.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Acquire)
    }
}

/// Something to deliver to users' connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Send a push to every connection of these users.
    Push {
        /// Recipients.
        users: Vec<String>,
        /// The push.
        push: Arc<SharedPush>,
        /// A session left out: the one whose request caused the push, which learns the outcome
        /// from its response.
        except: Option<SessionId>,
    },
    /// Log out every connection of this user.
    Kick {
        /// The user.
        user: String,
        /// Why.
        reason: String,
    },
}

/// A group message whose read count changed: what the node that notifies its sender needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReceiptNote {
    /// The message.
    pub msg_id: String,
    /// Its group.
    pub group_id: String,
    /// Its sender, who is notified.
    pub sender: String,
}

/// A group conversation changed for its members: a message was stored in it, or recalled.
/// Every node builds the members' new view for its own sessions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ConversationNote {
    /// The group.
    pub group_id: String,
    /// Whose message it was: that member's unread count did not change (empty when it may have
    /// changed for every member).
    pub sender: String,
    /// Whether members' unread counts changed (a stored message that counts as unread), not
    /// only the last message (an excluded message, a recall).
    pub unread: bool,
    /// The members the change concerns when it is not every member: of a targeted message,
    /// its sender and targets (the others' view did not change, and must not seem to).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
}
/// What a bus answers a question about sessions with.
pub type PresenceFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries deliveries to every node's hub.
pub trait Bus: Send + Sync + 'static {
    /// Publishes a delivery. Never blocks; delivery to slow connections is the hub's concern.
    fn publish(&self, delivery: Delivery);

    /// Whether a push to `users`, leaving out session `except`, would reach any session, so
    /// that no push is built and published for nobody. A bus that cannot see every node's sessions must
    /// answer true.
    fn reaches_any(&self, users: &[String], except: Option<SessionId>) -> bool;

    /// Hands each note to the node that coalesces the group receipt notifications of its
    /// sender, and returns the notes this node coalesces itself. One node per sender, so that
    /// the sender gets one push per window of committed counts wherever the readers are. A
    /// single node keeps every note.
    fn route_receipt_notes(&self, notes: Vec<ReceiptNote>) -> Vec<ReceiptNote> {
        notes
    }

    /// Hands group conversation notes to every other node (each builds the members' views for
    /// its own sessions) and returns the ones this node handles: all of them. A single node
    /// keeps every note.
    fn route_conversation_notes(&self, notes: Vec<ConversationNote>) -> Vec<ConversationNote> {
        notes
    }

    /// Those of `users` who have a session on this node.
    fn here(&self, users: Vec<String>) -> Vec<String>;

    /// Hands a delivery to this node's sessions only: for pushes that every node builds for its
    /// own sessions. A single node's bus publishes as usual.
    fn publish_here(&self, delivery: Delivery) {
        self.publish(delivery);
    }

    /// For each of `users`, whether it has a session on any node.
    fn online<'a>(&'a self, users: &'a [String]) -> PresenceFuture<'a, Vec<bool>>;

    /// When each session of `user` on the other nodes logged in (Unix nanoseconds); none on a
    /// single node.
    fn sessions_elsewhere<'a>(&'a self, _user: &'a str) -> PresenceFuture<'a, Vec<u64>> {
        Box::pin(std::future::ready(Vec::new()))
    }
}

/// The single-node bus: deliveries go straight to the local hub.
#[derive(Debug, Clone)]
pub struct LocalBus {
    hub: Arc<Hub>,
}

impl LocalBus {
    /// A bus delivering to `hub`.
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

impl Bus for LocalBus {
    fn publish(&self, delivery: Delivery) {
        self.hub.deliver(&delivery);
    }

    fn reaches_any(&self, users: &[String], except: Option<SessionId>) -> bool {
        self.hub.reaches_any(users, except)
    }

    fn here(&self, users: Vec<String>) -> Vec<String> {
        self.hub.here(users)
    }

    fn online<'a>(&'a self, users: &'a [String]) -> PresenceFuture<'a, Vec<bool>> {
        let online = users.iter().map(|user| self.hub.is_online(user)).collect();
        Box::pin(std::future::ready(online))
    }
}

/// Identifies one registered session.
pub type SessionId = u64;

#[derive(Debug)]
struct SessionSlot {
    id: SessionId,
    queue: OutboundSender,
    /// When it logged in, Unix nanoseconds: across nodes, the oldest of a user's sessions is
    /// the one to log out beyond the device limit.
    logged_in_at: u64,
}

/// Now, in Unix nanoseconds.
fn unix_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}

/// A user's first session on this node logged in, or its last one ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    /// The user.
    pub user: String,
    /// When the first session logged in (Unix nanoseconds); `None` when the last one ended.
    pub online_since: Option<u64>,
}

/// The sessions of this node, by user.
#[derive(Debug)]
pub struct Hub {
    sessions: RwLock<HashMap<String, Vec<SessionSlot>>>,
    next_id: AtomicU64,
    max_sessions_per_user: usize,
    /// Where users' presence changes go, once someone watches them.
    presence: OnceLock<mpsc::UnboundedSender<PresenceChange>>,
}

impl Hub {
    /// An empty hub; a user's oldest session is kicked when a new one exceeds the limit.
    pub fn new(max_sessions_per_user: usize) -> Self {
        Self {
            sessions: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            max_sessions_per_user: max_sessions_per_user.max(1),
            presence: OnceLock::new(),
        }
    }

    /// From now on, every user whose first session on this node logs in or whose last one
    /// ends is told on the returned channel, in the order it happened. One watcher: `None` when
    /// one is watching already.
    pub fn watch_presence(&self) -> Option<mpsc::UnboundedReceiver<PresenceChange>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.presence.set(sender).ok()?;
        Some(receiver)
    }

    /// Tells the watcher, if any, of a presence change. Called with the sessions' lock held,
    /// so that changes are told in the order they happened.
    fn tell(&self, user: &str, online_since: Option<u64>) {
        if let Some(presence) = self.presence.get() {
            let _ = presence.send(PresenceChange {
                user: user.to_owned(),
                online_since,
            });
        }
    }

    /// Registers a logged-in session's outbound queue. The hub holds the queue's only sender:
    /// when it drops the slot (slow consumer, kick), the session sees its queue close.
    pub fn register(&self, user: &str, queue: OutboundSender) -> SessionId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        let slots = sessions.entry(user.to_owned()).or_default();
        while slots.len() >= self.max_sessions_per_user {
            let oldest = slots.remove(0);
            let _ = oldest
                .queue
                .try_send(Outbound::Kicked(self.device_limit_reason()));
            metrics::counter!("tidings_sessions_kicked_total").increment(1);
            metrics::gauge!("tidings_sessions").decrement(1.0);
        }
        let first = slots.is_empty();
        let logged_in_at = unix_nanos();
        slots.push(SessionSlot {
            id,
            queue,
            logged_in_at,
        });
        if first {
            self.tell(user, Some(logged_in_at));
        }
        metrics::gauge!("tidings_sessions").increment(1.0);
        id
    }

    /// Sessions a user may have (on this node; a cluster bus holds it for the cluster).
    pub fn max_sessions_per_user(&self) -> usize {
        self.max_sessions_per_user
    }

    /// Why a session logged out for the device limit is told it was.
    pub fn device_limit_reason(&self) -> String {
        format!(
            "logged in on more than {} devices",
            self.max_sessions_per_user
        )
    }

    /// The user's sessions on this node and when each logged in (Unix nanoseconds).
    pub fn sessions_of(&self, user: &str) -> Vec<(SessionId, u64)> {
        let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(user)
            .into_iter()
            .flatten()
            .map(|slot| (slot.id, slot.logged_in_at))
            .collect()
    }

    /// Logs out one session of the user: it is sent `onKickedOffline` with `reason` and
    /// receives nothing more. Whether it was here.
    pub fn kick_session(&self, user: &str, id: SessionId, reason: &str) -> bool {
        let kicked = {
            let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
            let slot = sessions
                .get(user)
                .and_then(|slots| slots.iter().find(|slot| slot.id == id));
            slot.map(|slot| slot.queue.try_send(Outbound::Kicked(reason.to_owned())))
        };
        if kicked.is_some() {
            metrics::counter!("tidings_sessions_kicked_total").increment(1);
            self.unregister(user, id);
        }
        kicked.is_some()
    }

    /// Removes a session (on logout or disconnect). Unknown IDs are ignored.
    pub fn unregister(&self, user: &str, id: SessionId) {
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        if let Some(slots) = sessions.get_mut(user) {
            let before = slots.len();
            slots.retain(|slot| slot.id != id);
            if slots.len() < before {
                metrics::gauge!("tidings_sessions").decrement(1.0);
            }
            if slots.is_empty() {
                sessions.remove(user);
                self.tell(user, None);
            }
        }
    }

    /// Whether the user has a session on this node.
    pub fn is_online(&self, user: &str) -> bool {
        self.sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(user)
    }

    /// Whether any of `users` has a session on this node other than `except`.
    pub fn reaches_any(&self, users: &[String], except: Option<SessionId>) -> bool {
        let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        users.iter().any(|user| {
            sessions
                .get(user)
                .is_some_and(|slots| slots.iter().any(|slot| Some(slot.id) != except))
        })
    }

    /// Those of `users` who have a session on this node.
    pub fn here(&self, mut users: Vec<String>) -> Vec<String> {
        let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        users.retain(|user| sessions.contains_key(user));
        users
    }

    /// Sessions on this node.
    pub fn session_count(&self) -> usize {
        self.sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Vec::len)
            .sum()
    }

    /// Drops every session: their connections close, and their clients reconnect and catch up
    /// from the store. For when this node may have missed pushes (it lost the cluster's bus).
    pub fn drop_all(&self) {
        let dropped: usize = {
            let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
            let dropped = std::mem::take(&mut *sessions);
            for user in dropped.keys() {
                self.tell(user, None);
            }
            dropped.values().map(Vec::len).sum()
        };
        metrics::gauge!("tidings_sessions").decrement(dropped as f64);
    }

    /// Drops every session of these users, as [`Hub::drop_all`] does for all: for when pushes
    /// to them may have been missed.
    pub fn drop_users(&self, users: &[String]) {
        let dropped: usize = {
            let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
            let mut dropped = 0;
            for user in users {
                if let Some(slots) = sessions.remove(user) {
                    self.tell(user, None);
                    dropped += slots.len();
                }
            }
            dropped
        };
        metrics::gauge!("tidings_sessions").decrement(dropped as f64);
    }

    /// Hands a delivery to the addressed local sessions. A session whose queue is full (in
    /// pushes or in bytes) is dropped from the hub (its connection closes and the client reconnects and catches up),
    /// so one slow reader never blocks or loses pushes silently for anyone else.
    pub fn deliver(&self, delivery: &Delivery) {
        let mut overflowed = Vec::new();
        {
            let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
            match delivery {
                Delivery::Push {
                    users,
                    push,
                    except,
                } => {
                    for user in users {
                        let slots = sessions.get(user).into_iter().flatten();
                        for slot in slots.filter(|slot| Some(slot.id) != *except) {
                            if slot
                                .queue
                                .try_send(Outbound::Push(Arc::clone(push)))
                                .is_err()
                            {
                                overflowed.push((user.clone(), slot.id));
                            }
                        }
                    }
                }
                Delivery::Kick { user, reason } => {
                    for slot in sessions.get(user).into_iter().flatten() {
                        let _ = slot.queue.try_send(Outbound::Kicked(reason.clone()));
                        overflowed.push((user.clone(), slot.id));
                    }
                }
            }
        }
        for (user, id) in overflowed {
            if matches!(delivery, Delivery::Push { .. }) {
                metrics::counter!("tidings_sessions_overflowed_total").increment(1);
                tracing::warn!(%user, session = id, "outbound queue full; closing session");
            }
            self.unregister(&user, id);
        }
    }
}

#[cfg(test)]
mod tests;
