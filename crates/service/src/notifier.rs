//! Coalesced notifications: group receipt counts to senders, and group conversation changes
//! to members.
//!
//! A 100,000-member group reading one message must not send its sender 99,999 frames. Each
//! recorded group receipt only notes the message here; a worker wakes at most once per window,
//! reads the current counts of every noted message from the store and pushes one
//! `onRecvMessageReadReceipts` per sender. Because counts are read after they were committed,
//! successive pushes never go down and the last one equals what a pull returns.
//!
//! In a cluster the bus routes each note to the one node that coalesces its sender's
//! notifications ([`Bus::route_receipt_notes`]), so the same holds wherever the readers are.
//!
//! A group message (or recall) notes its group the same way, and the same worker, in the same
//! window, builds each member's view of every group noted, read after commit, for the members
//! with a session on this node, and pushes one `onConversationChanged` (and, when unread counts
//! moved, one `onTotalUnreadMessageCountChanged`) per member: a busy group costs each member one
//! conversation push per window, not one per message. In a cluster every node gets every
//! conversation note ([`Bus::route_conversation_notes`]) and serves its own sessions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tidings_proto::events::OnRecvMessageReadReceipts;
use tidings_proto::{Event, MessageReceipt};
use tokio::sync::mpsc;

use crate::message_facts::MessageFacts;
use crate::{Bus, ConversationNote, Delivery, ReceiptNote, SharedPush, Tidings};
use tidings_store::Store;

/// Handle to the notification worker; the worker stops when every handle is dropped.
#[derive(Clone)]
pub struct ReceiptNotifier {
    /// One entry per receipt call (or per batch another node routed here): the group messages
    /// whose counts it changed; or per group message or recall: the group it changed.
    notes: mpsc::UnboundedSender<Notes>,
    bus: Arc<dyn Bus>,
    /// Held by the worker from reading counts until their pushes are published; see
    /// [`ReceiptNotifier::fence`].
    flushing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for ReceiptNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptNotifier").finish_non_exhaustive()
    }
}

/// What the worker is told.
#[derive(Debug)]
enum Notes {
    /// Group messages whose read counts changed.
    Receipts(Vec<ReceiptNote>),
    /// Group conversations that changed for their members.
    Conversations(Vec<ConversationNote>),
    /// Answer once everything noted before is pushed.
    Settled(tokio::sync::oneshot::Sender<()>),
}

impl ReceiptNotifier {
    /// Starts the worker on the current Tokio runtime. It builds members' conversations with
    /// `services`, held weakly: the services hold the notifier.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        window: Duration,
        services: Weak<Tidings>,
    ) -> Self {
        let (notes, queue) = mpsc::unbounded_channel();
        let flushing = Arc::new(tokio::sync::Mutex::new(()));
        tokio::spawn(run(
            store,
            Arc::clone(&bus),
            window,
            queue,
            Arc::clone(&flushing),
            services,
        ));
        Self {
            notes,
            bus,
            flushing,
        }
    }

    /// Waits until no flush of this node that may have read counts or conversations before now
    /// is still to publish them. A recall calls it after its commit and before its own push: a
    /// flush that read the message before the recall has published by then, and every later
    /// flush (on any node) sees it recalled and leaves it out. A read position that moved calls
    /// it before its `onConversationChanged`, so that a member's view read before the move does
    /// not arrive after it (on this node's sessions).
    pub(crate) async fn fence(&self) {
        drop(self.flushing.lock().await);
    }

    /// Notes that the counts of these group messages changed: this node coalesces the ones
    /// whose senders it notifies, the bus takes the rest to their nodes.
    pub(crate) fn note(&self, changed: Vec<Arc<MessageFacts>>) {
        let notes = changed
            .iter()
            .map(|facts| ReceiptNote {
                msg_id: facts.msg_id.clone(),
                group_id: facts.group_id().unwrap_or_default().to_owned(),
                sender: facts.sender.clone(),
            })
            .collect();
        let kept = self.bus.route_receipt_notes(notes);
        if !kept.is_empty() {
            let _ = self.notes.send(Notes::Receipts(kept));
        }
    }

    /// Waits until what was noted before the call has been pushed (at most a window and a
    /// flush): for a shutdown, or a test, that must see the pushes of what it did.
    pub async fn settled(&self) {
        let (done, settled) = tokio::sync::oneshot::channel();
        if self.notes.send(Notes::Settled(done)).is_ok() {
            let _ = settled.await;
        }
    }

    /// Notes that a group conversation changed for its members; every node builds the views of
    /// its own sessions.
    pub(crate) fn note_conversation(&self, note: ConversationNote) {
        let kept = self.bus.route_conversation_notes(vec![note]);
        if !kept.is_empty() {
            let _ = self.notes.send(Notes::Conversations(kept));
        }
    }

    /// Where notes that other nodes route here go, for the cluster bus to keep.
    pub fn routed(&self) -> RoutedNotes {
        RoutedNotes(self.notes.downgrade())
    }
}

/// Takes notes that another node routed here: this node coalesces their senders'
/// notifications, whatever its own view of the cluster, so a note never travels twice. It
/// holds the worker weakly, so a bus that keeps it does not keep the worker (which holds the
/// bus) alive.
#[derive(Debug, Clone)]
pub struct RoutedNotes(mpsc::WeakUnboundedSender<Notes>);

impl RoutedNotes {
    /// Notes these messages here (nothing once the services are gone).
    pub fn note(&self, notes: Vec<ReceiptNote>) {
        if let Some(worker) = self.0.upgrade()
            && !notes.is_empty()
        {
            let _ = worker.send(Notes::Receipts(notes));
        }
    }

    /// Notes these group conversation changes, which another node published, for this node's
    /// sessions (nothing once the services are gone).
    pub fn note_conversations(&self, notes: Vec<ConversationNote>) {
        if let Some(worker) = self.0.upgrade()
            && !notes.is_empty()
        {
            let _ = worker.send(Notes::Conversations(notes));
        }
    }
}

/// Messages whose counts changed in this window, by ID. Every receipt call's messages are
/// looked up here; the IDs are server-made, so a fast hasher will do.
type Pending = HashMap<String, ReceiptNote, foldhash::fast::RandomState>;

async fn run(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    window: Duration,
    mut queue: mpsc::UnboundedReceiver<Notes>,
    flushing: Arc<tokio::sync::Mutex<()>>,
    services: Weak<Tidings>,
) {
    while let Some(first) = queue.recv().await {
        tokio::time::sleep(window).await;
        let mut pending = Pending::default();
        let mut conversations = Vec::new();
        let mut seen = HashSet::new();
        let mut waiting = Vec::new();
        let mut add = |notes: Notes| match notes {
            Notes::Settled(done) => waiting.push(done),
            Notes::Receipts(notes) => {
                for note in notes {
                    if !pending.contains_key(&note.msg_id) {
                        pending.insert(note.msg_id.clone(), note);
                    }
                }
            }
            Notes::Conversations(notes) => {
                conversations.extend(notes.into_iter().filter(|note| seen.insert(note.clone())));
            }
        };
        add(first);
        while let Ok(notes) = queue.try_recv() {
            add(notes);
        }
        let flushing_now = flushing.lock().await;
        if !pending.is_empty()
            && let Err(e) = flush(store.as_ref(), bus.as_ref(), pending).await
        {
            tracing::error!(error = %e, "cannot send group receipt notifications");
        }
        if !conversations.is_empty() {
            let Some(services) = services.upgrade() else {
                return;
            };
            if let Err(e) = services.publish_group_changes(conversations).await {
                tracing::error!(error = %e, "cannot send group conversation changes");
            }
        }
        drop(flushing_now);
        for done in waiting {
            let _ = done.send(());
        }
    }
}

async fn flush(store: &dyn Store, bus: &dyn Bus, mut pending: Pending) -> Result<(), String> {
    // Nothing is read or built for a sender nobody would push to.
    let mut reachable: HashMap<String, bool, foldhash::fast::RandomState> = HashMap::default();
    pending.retain(|_, note| {
        *reachable
            .entry(note.sender.clone())
            .or_insert_with(|| bus.reaches_any(std::slice::from_ref(&note.sender), None))
    });
    if pending.is_empty() {
        return Ok(());
    }
    let msg_ids: Vec<String> = pending.keys().cloned().collect();
    let states = store
        .group_receipts(&msg_ids)
        .await
        .map_err(|e| e.to_string())?;
    let mut by_sender: BTreeMap<&str, Vec<MessageReceipt>> = BTreeMap::new();
    for state in &states {
        let Some(note) = pending.get(&state.msg_id) else {
            continue;
        };
        // A recalled message's counts stay readable, but are pushed to nobody any more.
        if state.revoked {
            continue;
        }
        let read_count = state.readers.len();
        by_sender
            .entry(note.sender.as_str())
            .or_default()
            .push(MessageReceipt::group(
                state.msg_id.clone(),
                note.group_id.clone(),
                read_count,
                state.recipients.len().saturating_sub(read_count),
            ));
    }
    for (sender, receipts) in by_sender {
        metrics::counter!("tidings_receipt_pushes_total", "kind" => "group").increment(1);
        bus.publish(Delivery::Push {
            users: vec![sender.to_owned()],
            push: SharedPush::new(OnRecvMessageReadReceipts::push(receipts)),
            except: None,
        });
    }
    Ok(())
}
