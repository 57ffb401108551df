//! Coalesced group receipt notifications to senders.
//!
//! A 100,000-member group reading one message must not send its sender 99,999 frames. Each
//! recorded group receipt only notes the message here; a worker wakes at most once per window,
//! reads the current counts of every noted message from the store and pushes one
//! `onRecvMessageReadReceipts` per sender. Because counts are read after they were committed,
//! successive pushes never go down and the last one equals what a pull returns.
//!
//! In a cluster the bus routes each note to the one node that coalesces its sender's
//! notifications ([`Bus::route_receipt_notes`]), so the same holds wherever the readers are.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tidings_proto::events::OnRecvMessageReadReceipts;
use tidings_proto::{Event, MessageReceipt};
use tokio::sync::mpsc;

use crate::message_facts::MessageFacts;
use crate::{Bus, Delivery, ReceiptNote, SharedPush};
use tidings_store::Store;

/// Handle to the notification worker; the worker stops when every handle is dropped.
#[derive(Clone)]
pub struct ReceiptNotifier {
    /// One entry per receipt call (or per batch another node routed here): the group messages
    /// whose counts it changed.
    notes: mpsc::UnboundedSender<Vec<ReceiptNote>>,
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

impl ReceiptNotifier {
    /// Starts the worker on the current Tokio runtime.
    pub fn start(store: Arc<dyn Store>, bus: Arc<dyn Bus>, window: Duration) -> Self {
        let (notes, queue) = mpsc::unbounded_channel();
        let flushing = Arc::new(tokio::sync::Mutex::new(()));
        tokio::spawn(run(
            store,
            Arc::clone(&bus),
            window,
            queue,
            Arc::clone(&flushing),
        ));
        Self {
            notes,
            bus,
            flushing,
        }
    }

    /// Waits until no flush of this node that may have read counts before now is still to
    /// publish them. A recall calls it after its commit and before its own push: a flush that
    /// read the message before the recall has published by then, and every later flush (on any
    /// node) sees it recalled and leaves it out.
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
            let _ = self.notes.send(kept);
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
pub struct RoutedNotes(mpsc::WeakUnboundedSender<Vec<ReceiptNote>>);

impl RoutedNotes {
    /// Notes these messages here (nothing once the services are gone).
    pub fn note(&self, notes: Vec<ReceiptNote>) {
        if let Some(worker) = self.0.upgrade()
            && !notes.is_empty()
        {
            let _ = worker.send(notes);
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
    mut queue: mpsc::UnboundedReceiver<Vec<ReceiptNote>>,
    flushing: Arc<tokio::sync::Mutex<()>>,
) {
    while let Some(first) = queue.recv().await {
        tokio::time::sleep(window).await;
        let mut pending = Pending::default();
        let mut add = |notes: Vec<ReceiptNote>| {
            for note in notes {
                if !pending.contains_key(&note.msg_id) {
                    pending.insert(note.msg_id.clone(), note);
                }
            }
        };
        add(first);
        while let Ok(notes) = queue.try_recv() {
            add(notes);
        }
        let _flushing = flushing.lock().await;
        if let Err(e) = flush(store.as_ref(), bus.as_ref(), pending).await {
            tracing::error!(error = %e, "cannot send group receipt notifications");
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
