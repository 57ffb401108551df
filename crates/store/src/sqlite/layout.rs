//! How the SQLite engine stores a group message's read state, and the one reading of it.
//!
//! A message that asks for receipts has a `group_receipts` row (its recipients and readers
//! blobs) and, after it, rows of `group_receipt_deltas`: each write batch appends only the
//! readers it added, a few bytes, instead of rewriting the whole readers blob (kilobytes, and
//! every page of it logged to the WAL). The writer folds the deltas back into the blob when they
//! become many or large, and once every recipient has read, so a settled message is one compact
//! blob. [`stored_readers`] is the one reading of that layout, for the queries and for the
//! writer's receipt cache alike.

use roaring::RoaringBitmap;
use rusqlite::{Connection, params};

use crate::codec::{decode_bitmap, encode_bitmap};
use crate::{StoreError, StoreResult};

/// Most delta rows a message keeps before they are folded into its readers blob: a read of the
/// message merges at most this many small bitmaps.
const MAX_DELTAS: u32 = 15;

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

impl DeltaRows {
    /// Whether one more delta of `added_bytes`, beside a readers blob of `readers_bytes`, would
    /// be more than a message may keep: then the blob is rewritten instead ([`fold`]).
    pub(super) fn full_for(&self, added_bytes: usize, readers_bytes: usize) -> bool {
        self.count + 1 > MAX_DELTAS
            || self.bytes + added_bytes > readers_bytes.max(DELTA_BYTES_FLOOR)
    }
}

/// Stores the receipt state of a new message: its recipients, and no readers yet.
pub(super) fn insert_receipt_state(
    conn: &Connection,
    msg_id: &str,
    recipients: &mut RoaringBitmap,
) -> StoreResult<()> {
    recipients.optimize();
    conn.execute(
        "INSERT INTO group_receipts (msg_id, recipients, readers) VALUES (?1, ?2, ?3)",
        params![
            msg_id,
            encode_bitmap(recipients)?,
            encode_bitmap(&RoaringBitmap::new())?
        ],
    )?;
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

/// Stores `added` as one more delta row of a message.
pub(super) fn append_delta(
    conn: &Connection,
    msg_id: &str,
    deltas: &mut DeltaRows,
    added: &RoaringBitmap,
) -> StoreResult<()> {
    let bytes = encode_bitmap(added)?;
    conn.prepare_cached(
        "INSERT INTO group_receipt_deltas (msg_id, n, readers) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![msg_id, deltas.next, bytes])?;
    deltas.count += 1;
    deltas.next += 1;
    deltas.bytes += bytes.len();
    Ok(())
}

/// Rewrites a message's readers blob with `readers` and drops its delta rows.
pub(super) fn fold(
    conn: &Connection,
    msg_id: &str,
    readers: &RoaringBitmap,
    deltas: &mut DeltaRows,
) -> StoreResult<()> {
    // Runs make the stored form small (a fully read message is a few bytes), but make every
    // insert and count walk the runs: only the stored copy gets them.
    let mut stored = readers.clone();
    stored.optimize();
    conn.prepare_cached("UPDATE group_receipts SET readers = ?2 WHERE msg_id = ?1")?
        .execute(params![msg_id, encode_bitmap(&stored)?])?;
    if deltas.count > 0 {
        conn.prepare_cached("DELETE FROM group_receipt_deltas WHERE msg_id = ?1")?
            .execute([msg_id])?;
    }
    *deltas = DeltaRows::default();
    Ok(())
}

/// Deletes the receipt state of every message of a conversation (its messages are being
/// deleted).
pub(super) fn delete_conversation_receipts(conn: &Connection, conv: &str) -> StoreResult<()> {
    for table in ["group_receipts", "group_receipt_deltas"] {
        conn.execute(
            &format!(
                "DELETE FROM {table} WHERE msg_id IN (SELECT msg_id FROM messages WHERE conv = ?1 \
                 UNION ALL SELECT msg_id FROM online_messages WHERE conv = ?1)"
            ),
            [conv],
        )?;
    }
    Ok(())
}

/// Bytes of group read state as stored: every message's blobs and delta rows, with their keys.
pub(super) fn stored_bytes(conn: &Connection) -> StoreResult<u64> {
    let bytes: i64 = conn.query_row(
        "SELECT (SELECT COALESCE(SUM(length(recipients) + length(readers) + length(msg_id)), 0) \
         FROM group_receipts) + (SELECT COALESCE(SUM(length(readers) + length(msg_id) + 8), 0) \
         FROM group_receipt_deltas)",
        [],
        |row| row.get(0),
    )?;
    Ok(u64::try_from(bytes).unwrap_or(0))
}
