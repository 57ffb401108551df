//! Group receipt notes between nodes: one node coalesces each sender's notifications
//! ([`crate::nodes::Nodes::owner_of`]); a note whose owner is another node goes to it on
//! `tidings.<sdkappid>.notes.<node>`, where only that node listens.
//!
//! Notes are sent as they come, without waiting for a window (the owner's window is the only
//! one), but batched: a forwarding task takes everything that queued while it was publishing,
//! one publish per owner, each message once. So a storm of receipts on one message costs the
//! bus one small publish per forwarding round, not one per receipt.
//!
//! Group conversation notes go to every node (each builds the views of its own sessions), on
//! `tidings.<sdkappid>.conversations`, batched by the same task: one publish per round, each
//! note once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::StreamExt;
use tidings_service::{ConversationNote, ReceiptNote, RoutedNotes};
use tokio::sync::Notify;

use crate::nodes::{ANNOUNCE_EVERY, Nodes};
use crate::orphans::Forwarded;

/// Notes waiting to be sent: receipt notes by owner node, each message once, and conversation
/// notes for every node, each once.
#[derive(Default)]
struct Waiting {
    receipts: HashMap<Arc<str>, HashMap<String, ReceiptNote>>,
    conversations: HashSet<ConversationNote>,
}

/// Conversation notes on the bus, naming the node that published them (which handled them
/// itself already).
#[derive(serde::Serialize, serde::Deserialize)]
struct Broadcast {
    origin: String,
    notes: Vec<ConversationNote>,
}

/// Forwards notes to their owners and takes the notes routed to this node.
pub(crate) struct NoteRoutes {
    waiting: Arc<Mutex<Waiting>>,
    /// Receipt notes sent lately, for an owner that dies before it pushed them.
    forwarded: Arc<Mutex<Forwarded>>,
    wake: Arc<Notify>,
    /// This node's notifier, once the services exist; notes that arrive before are dropped
    /// (a node only becomes an owner once others heard of it, after its start).
    notifier: Arc<OnceLock<RoutedNotes>>,
}

/// The subject a node's notes are sent to.
fn subject(sdkappid: u64, node: &str) -> String {
    format!("tidings.{sdkappid}.notes.{node}")
}

/// The subject of conversation notes, which every node hears.
fn conversations_subject(sdkappid: u64) -> String {
    format!("tidings.{sdkappid}.conversations")
}

impl NoteRoutes {
    /// Starts forwarding and listening for this node's notes.
    pub(crate) async fn start(
        client: async_nats::Client,
        sdkappid: u64,
        me: &str,
    ) -> Result<Self, async_nats::SubscribeError> {
        let mut incoming = client.subscribe(subject(sdkappid, me)).await?;
        let mut broadcasts = client.subscribe(conversations_subject(sdkappid)).await?;
        let notifier: Arc<OnceLock<RoutedNotes>> = Arc::default();
        let (routed, me_owned) = (Arc::clone(&notifier), me.to_owned());
        tokio::spawn(async move {
            while let Some(message) = broadcasts.next().await {
                match serde_json::from_slice::<Broadcast>(&message.payload) {
                    Ok(broadcast) if broadcast.origin != me_owned => {
                        if let Some(notifier) = routed.get() {
                            notifier.note_conversations(broadcast.notes);
                        }
                    }
                    Ok(_) => {} // ours, handled here already
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable conversation notes from the bus");
                    }
                }
            }
        });
        let routed = Arc::clone(&notifier);
        tokio::spawn(async move {
            while let Some(message) = incoming.next().await {
                match serde_json::from_slice::<Vec<ReceiptNote>>(&message.payload) {
                    Ok(notes) => {
                        if let Some(notifier) = routed.get() {
                            notifier.note(notes);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "undecodable receipt notes from the bus"),
                }
            }
        });
        let waiting: Arc<Mutex<Waiting>> = Arc::default();
        let forwarded: Arc<Mutex<Forwarded>> = Arc::default();
        let wake = Arc::new(Notify::new());
        let (queue, woken) = (Arc::clone(&waiting), Arc::clone(&wake));
        let sent = Arc::clone(&forwarded);
        let origin = me.to_owned();
        tokio::spawn(async move {
            loop {
                woken.notified().await;
                let batch = std::mem::take(&mut *lock(&queue));
                if !batch.conversations.is_empty() {
                    let broadcast = Broadcast {
                        origin: origin.clone(),
                        notes: batch.conversations.into_iter().collect(),
                    };
                    let published = match serde_json::to_vec(&broadcast) {
                        Ok(payload) => client
                            .publish(conversations_subject(sdkappid), payload.into())
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = published {
                        tracing::warn!(error = %e, "conversation notes not sent to the other nodes");
                    }
                }
                for (owner, notes) in batch.receipts {
                    let notes: Vec<ReceiptNote> = notes.into_values().collect();
                    // Kept even when the publish fails: the owner may be the reason.
                    lock(&sent).record(&owner, &notes, tokio::time::Instant::now());
                    let published = match serde_json::to_vec(&notes) {
                        Ok(payload) => client
                            .publish(subject(sdkappid, &owner), payload.into())
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = published {
                        tracing::warn!(%owner, error = %e, "receipt notes not forwarded");
                    }
                }
            }
        });
        Ok(Self {
            waiting,
            forwarded,
            wake,
            notifier,
        })
    }

    /// Watches the owners of the notes sent lately: the notes of one counted gone go to their
    /// new owner (this node's notifier when it is this node).
    pub(crate) fn watch_owners(&self, nodes: Nodes, me: Arc<str>) {
        let (forwarded, waiting) = (Arc::clone(&self.forwarded), Arc::clone(&self.waiting));
        let (wake, notifier) = (Arc::clone(&self.wake), Arc::clone(&self.notifier));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ANNOUNCE_EVERY);
            loop {
                every.tick().await;
                let orphans = lock(&forwarded)
                    .take_orphans(tokio::time::Instant::now(), |node| nodes.is_alive(node));
                if orphans.is_empty() {
                    continue;
                }
                tracing::info!(
                    notes = orphans.len(),
                    "receipt notes of a node gone go to their new owners"
                );
                let mut mine = Vec::new();
                for note in orphans {
                    let owner = nodes.owner_of(&note.sender);
                    if *owner == *me {
                        mine.push(note);
                    } else {
                        queue_for(&waiting, owner, note);
                    }
                }
                wake.notify_one();
                if let Some(notifier) = notifier.get()
                    && !mine.is_empty()
                {
                    notifier.note(mine);
                }
            }
        });
    }

    /// From now on, notes routed to this node go to `notifier`.
    pub(crate) fn attach(&self, notifier: RoutedNotes) {
        let _ = self.notifier.set(notifier);
    }

    /// Queues `note` for its owner, another node.
    pub(crate) fn forward(&self, owner: Arc<str>, note: ReceiptNote) {
        queue_for(&self.waiting, owner, note);
    }

    /// Sends conversation notes to every other node (and wakes the forwarding task).
    pub(crate) fn broadcast(&self, notes: &[ConversationNote]) {
        lock(&self.waiting)
            .conversations
            .extend(notes.iter().cloned());
        self.send();
    }

    /// Wakes the forwarding task for what [`NoteRoutes::forward`] queued.
    pub(crate) fn send(&self) {
        self.wake.notify_one();
    }
}

/// Queues `note` for `owner`, each message once.
fn queue_for(waiting: &Mutex<Waiting>, owner: Arc<str>, note: ReceiptNote) {
    lock(waiting)
        .receipts
        .entry(owner)
        .or_default()
        .entry(note.msg_id.clone())
        .or_insert(note);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
