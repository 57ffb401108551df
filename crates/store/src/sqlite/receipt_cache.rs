//! Group receipt states kept by the writer thread across batches, changed in memory and written
//! back once per batch, before the batch commits.
//!
//! When many members read the same messages at once, every batch holds receipts for the same
//! few messages. Keeping their bitmaps between batches turns a blob read, decode, encode and
//! write per message per receipt into one small write per message per batch. The writer is the
//! only connection that changes receipt state, so what it holds is what is committed, as long
//! as a failed batch drops everything ([`ReceiptCache::discard`]) and a deleted group drops its
//! messages ([`ReceiptCache::forget_group`]).
//!
//! How the states are stored, and read back on a miss, is the `layout` module's.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use roaring::RoaringBitmap;
use rusqlite::{Connection, OptionalExtension};

use super::layout::{self, DeltaRows};
use crate::codec::decode_bitmap;
use crate::{GroupReceiptUpdate, StoreError, StoreResult};

/// Rough in-memory cost of an entry beyond its bitmaps and IDs (map slot, struct, allocations).
const ENTRY_OVERHEAD_BYTES: usize = 160;

/// The read state of one group message.
#[derive(Debug)]
pub(super) struct CachedReceipt {
    pub(super) group_id: String,
    pub(super) recipients: RoaringBitmap,
    /// The message was recalled: it takes no more receipts.
    pub(super) revoked: bool,
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
        self.readers.len() == self.recipients.len()
            || self.deltas.full_for(added_bytes, self.readers_bytes)
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
            private: false,
            msg_id,
        })
    }

    /// What adding `ordinal` to the readers would report, without adding it: a private
    /// reader's receipt, which the state's readers and deltas never hold.
    pub(super) fn peek_reader(
        &mut self,
        conn: &Connection,
        msg_id: String,
        ordinal: u32,
    ) -> StoreResult<GroupReceiptUpdate> {
        let state = self.entry(conn, &msg_id)?;
        Ok(GroupReceiptUpdate {
            read_count: state.readers.len(),
            recipient_count: state.recipients.len(),
            changed: !state.readers.contains(ordinal),
            private: true,
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
        for msg_id in std::mem::take(&mut self.dirty) {
            let Some(state) = self.entries.get_mut(&msg_id) else {
                continue;
            };
            let added = std::mem::take(&mut state.added);
            if state.should_fold(added.serialized_size()) {
                layout::fold(conn, &msg_id, &state.readers, &mut state.deltas)?;
            } else {
                layout::append_delta(conn, &msg_id, &mut state.deltas, &added)?;
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

    /// Notes that a message was recalled, if its state is held (a state loaded later reads it
    /// from the message).
    pub(super) fn mark_revoked(&mut self, msg_id: &str) {
        if let Some(state) = self.entries.get_mut(msg_id) {
            state.revoked = true;
        }
    }

    /// Drops the states of a group's messages (the group is being deleted).
    pub(super) fn forget_group(&mut self, group_id: &str) {
        self.entries.retain(|_, state| state.group_id != group_id);
        self.bytes = self.entries.values().map(|state| state.weight()).sum();
    }
}

fn load(conn: &Connection, msg_id: &str) -> StoreResult<CachedReceipt> {
    let row: Option<(Vec<u8>, Vec<u8>, String, bool)> = conn
        .prepare_cached(
            "SELECT r.recipients, r.readers, m.group_id, m.revoked_at IS NOT NULL \
             FROM group_receipts r \
             JOIN (SELECT msg_id, group_id, revoked_at FROM messages WHERE msg_id = ?1 \
                   UNION ALL SELECT msg_id, group_id, NULL FROM online_messages WHERE msg_id = ?1) m \
             ON m.msg_id = r.msg_id WHERE r.msg_id = ?1",
        )?
        .query_row([msg_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()?;
    let (recipients, readers, group_id, revoked) =
        row.ok_or_else(|| StoreError::NotFound(format!("receipt state of {msg_id}")))?;
    let (mut readers, deltas) = layout::stored_readers(conn, msg_id, &readers)?;
    readers.remove_run_compression();
    Ok(CachedReceipt {
        fixed_bytes: ENTRY_OVERHEAD_BYTES + msg_id.len() + group_id.len() + recipients.len(),
        readers_bytes: readers.serialized_size(),
        recipients: decode_bitmap(&recipients)?,
        revoked,
        readers,
        added: RoaringBitmap::new(),
        deltas,
        group_id,
        used_in: 0,
    })
}
