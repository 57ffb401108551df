//! Group receipt states touched by one write batch, written back once before the batch commits.
//!
//! When many members read the same messages at once, a batch holds hundreds of receipts for the
//! same few messages. Loading each message's bitmaps once per batch and writing each once turns
//! hundreds of blob read-modify-writes into one.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use rusqlite::{Connection, OptionalExtension, params};

use super::queries::{decode_bitmap, encode_bitmap};
use crate::{StoreError, StoreResult};

/// The read state of one group message within a batch.
#[derive(Debug)]
pub(super) struct CachedReceipt {
    pub(super) group_id: String,
    pub(super) recipients: RoaringBitmap,
    pub(super) readers: RoaringBitmap,
    dirty: bool,
}

impl CachedReceipt {
    /// Adds a reader; returns whether it was new.
    pub(super) fn insert_reader(&mut self, ordinal: u32) -> bool {
        let added = self.readers.insert(ordinal);
        self.dirty |= added;
        added
    }
}

/// The receipt states loaded by the jobs of one batch.
#[derive(Debug, Default)]
pub(super) struct ReceiptCache {
    entries: HashMap<String, CachedReceipt>,
}

impl ReceiptCache {
    /// The state of a message, loaded from the batch's transaction on first use.
    pub(super) fn get(
        &mut self,
        conn: &Connection,
        msg_id: &str,
    ) -> StoreResult<&mut CachedReceipt> {
        if !self.entries.contains_key(msg_id) {
            let row: Option<(Vec<u8>, Vec<u8>, String)> = conn
                .prepare_cached(
                    "SELECT r.recipients, r.readers, m.group_id FROM group_receipts r \
                     JOIN messages m ON m.msg_id = r.msg_id WHERE r.msg_id = ?1",
                )?
                .query_row([msg_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()?;
            let (recipients, readers, group_id) =
                row.ok_or_else(|| StoreError::NotFound(format!("receipt state of {msg_id}")))?;
            let state = CachedReceipt {
                group_id,
                recipients: decode_bitmap(&recipients)?,
                readers: decode_bitmap(&readers)?,
                dirty: false,
            };
            self.entries.insert(msg_id.to_owned(), state);
        }
        self.entries
            .get_mut(msg_id)
            .ok_or_else(|| StoreError::NotFound(format!("receipt state of {msg_id}")))
    }

    /// Writes every changed state back (in the batch's transaction, before it commits).
    pub(super) fn flush(self, conn: &Connection) -> StoreResult<()> {
        let mut save =
            conn.prepare_cached("UPDATE group_receipts SET readers = ?2 WHERE msg_id = ?1")?;
        for (msg_id, mut state) in self.entries {
            if state.dirty {
                state.readers.optimize();
                save.execute(params![msg_id, encode_bitmap(&state.readers)?])?;
            }
        }
        Ok(())
    }
}
