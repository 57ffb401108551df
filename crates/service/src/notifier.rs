//! Coalesced group receipt notifications to senders.
//!
//! A 100,000-member group reading one message must not send its sender 99,999 frames. Each
//! recorded group receipt only notes the message here; a worker wakes at most once per window,
//! reads the current counts of every noted message from the store and pushes one
//! `onRecvMessageReadReceipts` per sender. Because counts are read after they were committed,
//! successive pushes never go down and the last one equals what a pull returns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tidings_proto::events::OnRecvMessageReadReceipts;
use tidings_proto::{Event, MessageReceipt};
use tokio::sync::mpsc;

use crate::message_facts::MessageFacts;
use crate::{Bus, Delivery, SharedPush};
use tidings_store::Store;

/// Handle to the notification worker; the worker stops when this is dropped.
#[derive(Debug, Clone)]
pub struct ReceiptNotifier {
    /// One entry per receipt call: the group messages whose counts it changed.
    notes: mpsc::UnboundedSender<Vec<Arc<MessageFacts>>>,
}

impl ReceiptNotifier {
    /// Starts the worker on the current Tokio runtime.
    pub fn start(store: Arc<dyn Store>, bus: Arc<dyn Bus>, window: Duration) -> Self {
        let (notes, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(store, bus, window, queue));
        Self { notes }
    }

    /// Notes that the counts of these group messages changed.
    pub(crate) fn note(&self, changed: Vec<Arc<MessageFacts>>) {
        let _ = self.notes.send(changed);
    }
}

/// Messages whose counts changed in this window, by ID. Every receipt call's messages are
/// looked up here; the IDs are server-made, so a fast hasher will do.
type Pending = HashMap<String, Arc<MessageFacts>, foldhash::fast::RandomState>;

async fn run(
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    window: Duration,
    mut queue: mpsc::UnboundedReceiver<Vec<Arc<MessageFacts>>>,
) {
    while let Some(first) = queue.recv().await {
        tokio::time::sleep(window).await;
        let mut pending = Pending::default();
        let mut add = |changed: Vec<Arc<MessageFacts>>| {
            for facts in changed {
                if !pending.contains_key(&facts.msg_id) {
                    pending.insert(facts.msg_id.clone(), facts);
                }
            }
        };
        add(first);
        while let Ok(changed) = queue.try_recv() {
            add(changed);
        }
        if let Err(e) = flush(store.as_ref(), bus.as_ref(), pending).await {
            tracing::error!(error = %e, "cannot send group receipt notifications");
        }
    }
}

async fn flush(store: &dyn Store, bus: &dyn Bus, pending: Pending) -> Result<(), String> {
    let msg_ids: Vec<String> = pending.keys().cloned().collect();
    let states = store
        .group_receipts(&msg_ids)
        .await
        .map_err(|e| e.to_string())?;
    let mut by_sender: BTreeMap<&str, Vec<MessageReceipt>> = BTreeMap::new();
    for state in &states {
        let Some(facts) = pending.get(&state.msg_id) else {
            continue;
        };
        let read_count = state.readers.len();
        by_sender
            .entry(facts.sender.as_str())
            .or_default()
            .push(MessageReceipt::group(
                state.msg_id.clone(),
                facts.group_id().unwrap_or_default().to_owned(),
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
