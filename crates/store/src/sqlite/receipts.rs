//! SQLite queries of message-level receipts: C2C receipt times, and group read state through
//! the writer's receipt cache and the stored layout.

use rusqlite::{Connection, OptionalExtension, params};

use super::groups::active_member_ordinal;
use super::layout::stored_readers;
use super::receipt_cache::ReceiptCache;
use super::users::private_receipts;
use crate::codec::decode_bitmap;
use crate::{C2cReceiptsRecorded, GroupReceiptRecord, GroupReceiptUpdate, StoreError, StoreResult};

/// Sets the receipt time of C2C messages that have none; for each, whether it was set now.
/// A recalled message refuses the whole call (the job's savepoint undoes what it set). A reader
/// who keeps receipts private sets nothing.
pub(super) fn record_c2c(
    conn: &Connection,
    reader: &str,
    msg_ids: &[String],
    time: i64,
) -> StoreResult<C2cReceiptsRecorded> {
    if private_receipts(conn, reader)?.unwrap_or(false) {
        return Ok(C2cReceiptsRecorded {
            newly: check_c2c(conn, msg_ids)?,
            private: true,
        });
    }
    let mut stmt = conn.prepare_cached(
        "UPDATE messages SET receipt_at = ?2 \
         WHERE msg_id = ?1 AND receipt_at IS NULL AND revoked_at IS NULL",
    )?;
    let mut online = conn.prepare_cached(
        "UPDATE online_messages SET receipt_at = ?2 WHERE msg_id = ?1 AND receipt_at IS NULL",
    )?;
    let mut revoked =
        conn.prepare_cached("SELECT 1 FROM messages WHERE msg_id = ?1 AND revoked_at IS NOT NULL")?;
    let mut newly = Vec::with_capacity(msg_ids.len());
    for msg_id in msg_ids {
        // A message is in one of the two tables (`onlineUserOnly` ones are never recalled): at
        // most one row changes.
        let changed =
            stmt.execute(params![msg_id, time])? + online.execute(params![msg_id, time])? == 1;
        // Only a message that changed nothing can be a recalled one: the usual receipt costs
        // no second statement.
        if !changed && revoked.exists([msg_id])? {
            return Err(StoreError::Revoked {
                msg_id: msg_id.clone(),
            });
        }
        newly.push(changed);
    }
    Ok(C2cReceiptsRecorded {
        newly,
        private: false,
    })
}

/// A private reader's C2C receipts: refused as [`record_c2c`] refuses them, recording nothing;
/// for each message, whether it has no receipt time (the receipt would be new).
fn check_c2c(conn: &Connection, msg_ids: &[String]) -> StoreResult<Vec<bool>> {
    let mut state = conn.prepare_cached(
        "SELECT receipt_at IS NULL, revoked_at IS NOT NULL FROM messages WHERE msg_id = ?1 \
         UNION ALL SELECT receipt_at IS NULL, 0 FROM online_messages WHERE msg_id = ?1",
    )?;
    let mut newly = Vec::with_capacity(msg_ids.len());
    for msg_id in msg_ids {
        let found: Option<(bool, bool)> = state
            .query_row([msg_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((_, true)) = found {
            return Err(StoreError::Revoked {
                msg_id: msg_id.clone(),
            });
        }
        newly.push(found.is_some_and(|(unreceipted, _)| unreceipted));
    }
    Ok(newly)
}

/// Adds a current member to the readers of the group's messages, all or none: every message
/// must be one of the group's with the reader among its recipients.
pub(super) fn record_group(
    conn: &Connection,
    receipts: &mut ReceiptCache,
    group_id: &str,
    reader: &str,
    msg_ids: Vec<String>,
) -> StoreResult<Vec<GroupReceiptUpdate>> {
    let reader_ordinal = active_member_ordinal(conn, group_id, reader)?;
    let private = private_receipts(conn, reader)?.unwrap_or(false);
    // Check every message before changing any, so a refused call records nothing.
    for msg_id in &msg_ids {
        let not_recipient = || StoreError::NotRecipient {
            msg_id: msg_id.clone(),
        };
        // No receipt state: the message does not exist or did not ask for receipts.
        let state = match receipts.get(conn, msg_id) {
            Err(StoreError::NotFound(_)) => return Err(not_recipient()),
            other => other?,
        };
        if state.group_id != group_id || !state.recipients.contains(reader_ordinal) {
            return Err(not_recipient());
        }
        if state.revoked {
            return Err(StoreError::Revoked {
                msg_id: msg_id.clone(),
            });
        }
    }
    if private {
        // Checked like any other call; nothing is added, so the readers stay as senders see
        // them.
        return msg_ids
            .into_iter()
            .map(|msg_id| receipts.peek_reader(conn, msg_id, reader_ordinal))
            .collect();
    }
    msg_ids
        .into_iter()
        .map(|msg_id| receipts.add_reader(conn, msg_id, reader_ordinal))
        .collect()
}

/// The read state of the group messages that have one.
pub(super) fn group_states(
    conn: &Connection,
    msg_ids: Vec<String>,
) -> StoreResult<Vec<GroupReceiptRecord>> {
    let mut load = conn.prepare_cached(
        // Of stored messages or `onlineUserOnly` ones (never recalled, not in `messages`).
        "SELECT r.recipients, r.readers, EXISTS (SELECT 1 FROM messages m \
         WHERE m.msg_id = r.msg_id AND m.revoked_at IS NOT NULL) \
         FROM group_receipts r WHERE r.msg_id = ?1",
    )?;
    let mut records = Vec::with_capacity(msg_ids.len());
    for msg_id in msg_ids {
        let blobs: Option<(Vec<u8>, Vec<u8>, bool)> = load
            .query_row([&msg_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        if let Some((recipients, readers, revoked)) = blobs {
            let (readers, _) = stored_readers(conn, &msg_id, &readers)?;
            records.push(GroupReceiptRecord {
                msg_id,
                recipients: decode_bitmap(&recipients)?,
                readers,
                revoked,
            });
        }
    }
    Ok(records)
}
