//! Group receipts on PostgreSQL: calls queued to one task per store, recorded in batches, each
//! batch one transaction that locks the receipt rows it reads.
//!
//! When many members read the same messages at once, their calls pile up here while a batch
//! runs; the next batch reads each touched message's readers once, adds every waiting reader in
//! memory, writes each changed blob once and commits once. Another node's batch touching the
//! same messages waits for the row locks (taken in message-ID order, so two batches cannot hold
//! each other's rows), then reads what this one committed: a reader is added once, and only the
//! call that added it is told `changed`.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Pool;
use roaring::RoaringBitmap;
use tokio::sync::{mpsc, oneshot};

use super::cached::CachedQueries;
use super::{connection, is_retryable};
use crate::codec::{decode_bitmap, encode_bitmap};
use crate::{GroupReceiptUpdate, StoreError, StoreResult};

/// Times a batch that lost a deadlock or serialization race is run again before its calls fail.
const RACE_RETRIES: usize = 3;

type Answer = oneshot::Sender<StoreResult<Vec<GroupReceiptUpdate>>>;

struct ReceiptCall {
    group_id: String,
    reader: String,
    msg_ids: Vec<String>,
    answer: Answer,
}

/// The queue of group receipt calls of one store.
pub(super) struct ReceiptBatcher {
    calls: mpsc::UnboundedSender<ReceiptCall>,
}

impl ReceiptBatcher {
    pub(super) fn start(pool: Pool, max_batch: usize) -> Self {
        let (calls, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue, max_batch));
        Self { calls }
    }

    pub(super) async fn record(
        &self,
        group_id: String,
        reader: String,
        msg_ids: Vec<String>,
    ) -> StoreResult<Vec<GroupReceiptUpdate>> {
        let (answer, answered) = oneshot::channel();
        let call = ReceiptCall {
            group_id,
            reader,
            msg_ids,
            answer,
        };
        self.calls
            .send(call)
            .map_err(|_| StoreError::Unavailable("receipt batcher stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Unavailable("receipt batcher stopped".into()))?
    }
}

async fn run(pool: Pool, mut queue: mpsc::UnboundedReceiver<ReceiptCall>, max_batch: usize) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        let mut outcome = record_batch(&pool, &batch).await;
        for _ in 0..RACE_RETRIES {
            match &outcome {
                Err(Failure::Race(_)) => outcome = record_batch(&pool, &batch).await,
                _ => break,
            }
        }
        match outcome {
            Ok(results) => {
                for (call, result) in batch.into_iter().zip(results) {
                    let _ = call.answer.send(result);
                }
            }
            Err(failure) => {
                let error = failure.into_store_error();
                tracing::warn!(%error, calls = batch.len(), "receipt batch failed");
                for call in batch {
                    let _ = call.answer.send(Err(clone_error(&error)));
                }
            }
        }
    }
}

/// Why a whole batch failed.
enum Failure {
    /// Lost a race with another transaction; running it again is right.
    Race(tokio_postgres::Error),
    Store(StoreError),
}

impl Failure {
    fn into_store_error(self) -> StoreError {
        match self {
            Self::Race(e) => e.into(),
            Self::Store(e) => e,
        }
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        if is_retryable(&e) {
            Self::Race(e)
        } else {
            Self::Store(e.into())
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The same failure for every call of a failed batch.
fn clone_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Unavailable(reason) => StoreError::Unavailable(reason.clone()),
        StoreError::Corrupt(reason) => StoreError::Corrupt(reason.clone()),
        other => StoreError::Database(other.to_string()),
    }
}

/// The read state of one message, locked for the batch.
struct Locked {
    group_id: String,
    revoked: bool,
    recipients: RoaringBitmap,
    readers: RoaringBitmap,
    changed: bool,
}

/// Records a batch in one transaction; each call's own outcome, or the batch's failure.
async fn record_batch(
    pool: &Pool,
    batch: &[ReceiptCall],
) -> Result<Vec<StoreResult<Vec<GroupReceiptUpdate>>>, Failure> {
    let mut client = connection(pool).await?;
    let tx = client.transaction().await?;
    let mut msg_ids: Vec<&str> = batch
        .iter()
        .flat_map(|call| call.msg_ids.iter().map(String::as_str))
        .collect();
    msg_ids.sort_unstable();
    msg_ids.dedup();
    let mut states: HashMap<String, Locked> = HashMap::with_capacity(msg_ids.len());
    for row in tx
        .query(
            "SELECT msg_id, group_id, recipients, readers, revoked FROM group_receipts \
             WHERE msg_id = ANY($1) ORDER BY msg_id FOR UPDATE",
            &[&msg_ids],
        )
        .await?
    {
        let recipients: &[u8] = row.try_get(2)?;
        let readers: &[u8] = row.try_get(3)?;
        let mut readers = decode_bitmap(readers)?;
        // Inserts into run containers walk the runs; only the stored copy keeps them.
        readers.remove_run_compression();
        states.insert(
            row.try_get(0)?,
            Locked {
                group_id: row.try_get(1)?,
                revoked: row.try_get(4)?,
                recipients: decode_bitmap(recipients)?,
                readers,
                changed: false,
            },
        );
    }
    let ordinals = reader_ordinals(&tx, batch).await?;
    let groups = existing_groups(&tx, batch).await?;
    let results = batch
        .iter()
        .map(|call| apply(call, &ordinals, &groups, &mut states))
        .collect();
    let (ids, blobs): (Vec<&str>, Vec<Vec<u8>>) = {
        let mut ids = Vec::new();
        let mut blobs = Vec::new();
        for (msg_id, state) in states.iter_mut().filter(|(_, s)| s.changed) {
            state.readers.optimize();
            ids.push(msg_id.as_str());
            blobs.push(encode_bitmap(&state.readers)?);
        }
        (ids, blobs)
    };
    if !ids.is_empty() {
        tx.execute(
            "UPDATE group_receipts SET readers = n.readers \
             FROM unnest($1::text[], $2::bytea[]) AS n(msg_id, readers) \
             WHERE group_receipts.msg_id = n.msg_id",
            &[&ids, &blobs],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(results)
}

/// A current member reading: the member's ordinal, and whether the member keeps receipts
/// private.
#[derive(Debug, Clone, Copy)]
struct Reader {
    ordinal: u32,
    private: bool,
}

/// Each (group, reader) of the batch who is a current member, read in the batch's transaction.
async fn reader_ordinals(
    tx: &impl CachedQueries,
    batch: &[ReceiptCall],
) -> Result<HashMap<(String, String), Reader>, Failure> {
    let groups: Vec<&str> = batch.iter().map(|c| c.group_id.as_str()).collect();
    let readers: Vec<&str> = batch.iter().map(|c| c.reader.as_str()).collect();
    let mut ordinals = HashMap::new();
    for row in tx
        .query(
            "SELECT DISTINCT m.group_id, m.user_id, m.ordinal, \
             COALESCE(u.private_receipts, FALSE) FROM members m \
             JOIN unnest($1::text[], $2::text[]) AS w(g, u) \
             ON m.group_id = w.g AND m.user_id = w.u \
             LEFT JOIN users u ON u.user_id = m.user_id WHERE m.active",
            &[&groups, &readers],
        )
        .await?
    {
        let ordinal: i64 = row.try_get(2)?;
        let ordinal = u32::try_from(ordinal)
            .map_err(|_| StoreError::Corrupt(format!("member ordinal {ordinal}")))?;
        let private: bool = row.try_get(3)?;
        ordinals.insert(
            (row.try_get(0)?, row.try_get(1)?),
            Reader { ordinal, private },
        );
    }
    Ok(ordinals)
}

/// The groups named by the batch that exist.
async fn existing_groups(
    tx: &impl CachedQueries,
    batch: &[ReceiptCall],
) -> Result<HashSet<String>, Failure> {
    let groups: Vec<&str> = batch.iter().map(|c| c.group_id.as_str()).collect();
    Ok(tx
        .query(
            "SELECT group_id FROM groups WHERE group_id = ANY($1)",
            &[&groups],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?)
}

/// One call's receipts against the locked states: every message is checked before any
/// reader is added, so a refused call records nothing.
fn apply(
    call: &ReceiptCall,
    ordinals: &HashMap<(String, String), Reader>,
    groups: &HashSet<String>,
    states: &mut HashMap<String, Locked>,
) -> StoreResult<Vec<GroupReceiptUpdate>> {
    let key = (call.group_id.clone(), call.reader.clone());
    let Some(&Reader { ordinal, private }) = ordinals.get(&key) else {
        return Err(if groups.contains(&call.group_id) {
            StoreError::NotMember {
                group: call.group_id.clone(),
                user: call.reader.clone(),
            }
        } else {
            StoreError::NotFound(format!("group {}", call.group_id))
        });
    };
    for msg_id in &call.msg_ids {
        let receivable = states.get(msg_id).is_some_and(|state| {
            state.group_id == call.group_id && state.recipients.contains(ordinal)
        });
        if !receivable {
            return Err(StoreError::NotRecipient {
                msg_id: msg_id.clone(),
            });
        }
        if states.get(msg_id).is_some_and(|state| state.revoked) {
            return Err(StoreError::Revoked {
                msg_id: msg_id.clone(),
            });
        }
    }
    Ok(call
        .msg_ids
        .iter()
        .filter_map(|msg_id| {
            let state = states.get_mut(msg_id)?;
            // A private reader is checked like any other and added to nothing.
            let changed = if private {
                !state.readers.contains(ordinal)
            } else {
                let added = state.readers.insert(ordinal);
                state.changed |= added;
                added
            };
            Some(GroupReceiptUpdate {
                msg_id: msg_id.clone(),
                read_count: state.readers.len(),
                recipient_count: state.recipients.len(),
                changed,
                private,
            })
        })
        .collect())
}
