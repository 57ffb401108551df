//! Group receipt states kept by the writer thread across batches, changed in memory and written
//! back once per batch, before the batch commits; and how those states are stored.
//!
//! When many members read the same messages at once, every batch holds receipts for the same
//! few messages. Keeping their bitmaps between batches turns a blob read, decode, encode and
//! write per message per receipt into one small write per message per batch. The writer is the
//! only connection that changes receipt state, so what it holds is what is committed, as long
//! as a failed batch drops everything ([`ReceiptCache::discard`]) and a deleted group drops its
//! messages ([`ReceiptCache::forget_group`]).
//!
//! A message's readers are stored as its `group_receipts.readers` blob plus the rows of
//! `group_receipt_deltas`: each batch appends only the readers it added, a few bytes, instead
//! of rewriting the whole blob (kilobytes, and every page of it logged to the WAL). The writer
//! folds the deltas back into the blob when they become many or large, and once every
//! recipient has read, so a settled message is one compact blob. [`stored_readers`] is the one
//! reading of that layout.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use roaring::RoaringBitmap;
use rusqlite::{Connection, OptionalExtension, params};

use super::queries::{decode_bitmap, encode_bitmap};
use crate::{GroupReceiptUpdate, StoreError, StoreResult};

/// Rough in-memory cost of an entry beyond its bitmaps and IDs (map slot, struct, allocations).
const ENTRY_OVERHEAD_BYTES: usize = 160;

/// Most delta rows a message keeps before they are folded into its readers blob: a read of the
/// message merges at most this many small bitmaps.
const MAX_DELTAS: u32 = 16;

/// Delta bytes a message may always keep; beyond it, at most as many as its readers blob holds,
/// so deltas never more than double the stored state.
const DELTA_BYTES_FLOOR: usize = 1024;

/// The delta rows stored after a message's readers blob.
#[derive(Debug, Default)]
pub(super) struct DeltaRows {
    count: u32,
    next: i64,
    bytes: usize,
}

/// The read state of one group message.
#[derive(Debug)]
pub(super) struct CachedReceipt {
    pub(super) group_id: String,
    pub(super) recipients: RoaringBitmap,
    readers: RoaringBitmap,
    /// Readers added in the current batch, not yet written.
    added: RoaringBitmap,
    deltas: DeltaRows,
    /// Approximate bytes held besides the readers, for the budget.
    fixed_bytes: usize,
    /// Bytes of the readers as last loaded or written back.
    readers_bytes: usize,
    /// The batch that last used it, for eviction.
    used_in: u64,
}

/// The writer's receipt states, bounded by a byte budget between batches.
#[derive(Debug)]
pub(super) struct ReceiptCache {
    /// Keys are server-made message IDs: a fast hasher, not a DoS-resistant one.
    entries: HashMap<String, CachedReceipt, RandomState>,
    /// Messages whose readers changed in the current batch, each once.
    dirty: Vec<String>,
    bytes: usize,
    budget: usize,
    batch: u64,
}

impl CachedReceipt {
    fn weight(&self) -> usize {
        self.fixed_bytes + self.readers_bytes
    }

    /// Whether this batch rewrites the readers blob (and drops the deltas) rather than adding
    /// a delta of `added_bytes`.
    fn should_fold(&self, added_bytes: usize) -> bool {
        self.deltas.count + 1 >= MAX_DELTAS
            || self.readers.len() == self.recipients.len()
            || self.deltas.bytes + added_bytes > self.readers_bytes.max(DELTA_BYTES_FLOOR)
    }
}

impl ReceiptCache {
    /// An empty cache that keeps at most about `budget` bytes between batches.
    pub(super) fn new(budget: usize) -> Self {
        Self {
            entries: HashMap::default(),
            dirty: Vec::new(),
            bytes: 0,
            budget,
            batch: 0,
        }
    }

    /// The state of a message, loaded from the batch's transaction when not held; NotFound
    /// when the message has no receipt state.
    pub(super) fn get(&mut self, conn: &Connection, msg_id: &str) -> StoreResult<&CachedReceipt> {
        Ok(self.entry(conn, msg_id)?)
    }

    /// Adds `ordinal` to the readers of a message. Jobs call it only after every check passed:
    /// a failed job's savepoint rolls back its SQL, not this cache.
    pub(super) fn add_reader(
        &mut self,
        conn: &Connection,
        msg_id: String,
        ordinal: u32,
    ) -> StoreResult<GroupReceiptUpdate> {
        let state = self.entry(conn, &msg_id)?;
        let changed = state.readers.insert(ordinal);
        let first_change = changed && state.added.is_empty();
        if changed {
            state.added.insert(ordinal);
        }
        let (read_count, recipient_count) = (state.readers.len(), state.recipients.len());
        if first_change {
            self.dirty.push(msg_id.clone());
        }
        Ok(GroupReceiptUpdate {
            read_count,
            recipient_count,
            changed,
            msg_id,
        })
    }

    fn entry(&mut self, conn: &Connection, msg_id: &str) -> StoreResult<&mut CachedReceipt> {
        if !self.entries.contains_key(msg_id) {
            let loaded = load(conn, msg_id)?;
            self.bytes += loaded.weight();
            self.entries.insert(msg_id.to_owned(), loaded);
        }
        let state = self
            .entries
            .get_mut(msg_id)
            .ok_or_else(|| StoreError::NotFound(format!("receipt state of {msg_id}")))?;
        state.used_in = self.batch;
        Ok(state)
    }

    /// Writes every state changed in this batch back, in the batch's transaction: a delta row
    /// of the readers added, or the whole readers blob when it is time to fold.
    pub(super) fn flush(&mut self, conn: &Connection) -> StoreResult<()> {
        let mut add_delta = conn.prepare_cached(
            "INSERT INTO group_receipt_deltas (msg_id, n, readers) VALUES (?1, ?2, ?3)",
        )?;
        for msg_id in std::mem::take(&mut self.dirty) {
            let Some(state) = self.entries.get_mut(&msg_id) else {
                continue;
            };
            let added = std::mem::take(&mut state.added);
            let added_bytes = added.serialized_size();
            if state.should_fold(added_bytes) {
                fold(conn, &msg_id, &state.readers, state.deltas.count)?;
                state.deltas = DeltaRows::default();
            } else {
                add_delta.execute(params![msg_id, state.deltas.next, encode_bitmap(&added)?])?;
                state.deltas.count += 1;
                state.deltas.next += 1;
                state.deltas.bytes += added_bytes;
            }
            let held = state.readers.serialized_size();
            self.bytes = self.bytes - state.readers_bytes + held;
            state.readers_bytes = held;
        }
        Ok(())
    }

    /// Ends a committed batch: keeps the cache within its budget, dropping first what this
    /// batch did not use.
    pub(super) fn end_batch(&mut self) {
        self.dirty.clear();
        if self.bytes > self.budget {
            let current = self.batch;
            self.entries.retain(|_, state| state.used_in == current);
            self.bytes = self.entries.values().map(|state| state.weight()).sum();
            if self.bytes > self.budget {
                self.entries.clear();
                self.bytes = 0;
            }
        }
        self.batch += 1;
    }

    /// Drops everything after a batch failed: its changes were rolled back.
    pub(super) fn discard(&mut self) {
        self.entries.clear();
        self.dirty.clear();
        self.bytes = 0;
        self.batch += 1;
    }

    /// Drops the states of a group's messages (the group is being deleted).
    pub(super) fn forget_group(&mut self, group_id: &str) {
        self.entries.retain(|_, state| state.group_id != group_id);
        self.bytes = self.entries.values().map(|state| state.weight()).sum();
    }
}

/// Rewrites a message's readers blob and drops its `deltas` delta rows.
fn fold(conn: &Connection, msg_id: &str, readers: &RoaringBitmap, deltas: u32) -> StoreResult<()> {
    // Runs make the stored form small (a fully read message is a few bytes), but make every
    // insert and count walk the runs: only the stored copy gets them.
    let mut stored = readers.clone();
    stored.optimize();
    conn.prepare_cached("UPDATE group_receipts SET readers = ?2 WHERE msg_id = ?1")?
        .execute(params![msg_id, encode_bitmap(&stored)?])?;
    if deltas > 0 {
        conn.prepare_cached("DELETE FROM group_receipt_deltas WHERE msg_id = ?1")?
            .execute([msg_id])?;
    }
    Ok(())
}

/// The readers of a message whose readers blob is `blob`: the blob and every delta row after
/// it, and what those rows are. `blob` must have been read in the same transaction (every
/// store read and write runs in one), or a fold committed in between would drop readers.
pub(super) fn stored_readers(
    conn: &Connection,
    msg_id: &str,
    blob: &[u8],
) -> StoreResult<(RoaringBitmap, DeltaRows)> {
    let mut readers = decode_bitmap(blob)?;
    let mut deltas = DeltaRows::default();
    let mut select =
        conn.prepare_cached("SELECT n, readers FROM group_receipt_deltas WHERE msg_id = ?1")?;
    let mut rows = select.query([msg_id])?;
    while let Some(row) = rows.next()? {
        let n: i64 = row.get(0)?;
        let bytes = row
            .get_ref(1)?
            .as_blob()
            .map_err(|e| StoreError::Corrupt(format!("delta of {msg_id}: {e}")))?;
        readers |= decode_bitmap(bytes)?;
        deltas.count += 1;
        deltas.next = deltas.next.max(n + 1);
        deltas.bytes += bytes.len();
    }
    Ok((readers, deltas))
}

fn load(conn: &Connection, msg_id: &str) -> StoreResult<CachedReceipt> {
    let row: Option<(Vec<u8>, Vec<u8>, String)> = conn
        .prepare_cached(
            "SELECT r.recipients, r.readers, m.group_id FROM group_receipts r \
             JOIN messages m ON m.msg_id = r.msg_id WHERE r.msg_id = ?1",
        )?
        .query_row([msg_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let (recipients, readers, group_id) =
        row.ok_or_else(|| StoreError::NotFound(format!("receipt state of {msg_id}")))?;
    let (mut readers, deltas) = stored_readers(conn, msg_id, &readers)?;
    readers.remove_run_compression();
    Ok(CachedReceipt {
        fixed_bytes: ENTRY_OVERHEAD_BYTES + msg_id.len() + group_id.len() + recipients.len(),
        readers_bytes: readers.serialized_size(),
        recipients: decode_bitmap(&recipients)?,
        readers,
        added: RoaringBitmap::new(),
        deltas,
        group_id,
        used_in: 0,
    })
}
