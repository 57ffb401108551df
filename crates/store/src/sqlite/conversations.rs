//! SQLite queries of conversation state: each user's C2C conversations (last message, read
//! position) and each member's group read position.

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{C2C_COLUMNS, c2c_from_row};
use crate::{C2cConversationRecord, StoreError, StoreResult};

/// Notes a C2C message in the conversation state of its sender and its receiver.
pub(super) fn note_c2c_message(
    conn: &Connection,
    sender: &str,
    receiver: &str,
    seq: u64,
    time: i64,
) -> StoreResult<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO c2c_conversations (owner, peer, last_seq, last_time, read_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (owner, peer) DO UPDATE SET last_seq = excluded.last_seq, \
         last_time = excluded.last_time, read_seq = MAX(read_seq, excluded.read_seq)",
    )?;
    // Sending reads nothing: the sender's read position stays where it was (own messages are
    // never unread anyway).
    upsert.execute(params![sender, receiver, seq, time, 0])?;
    if receiver != sender {
        upsert.execute(params![receiver, sender, seq, time, 0])?;
    }
    Ok(())
}

/// All C2C conversations of a user.
pub(super) fn c2c_list(conn: &Connection, owner: &str) -> StoreResult<Vec<C2cConversationRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = ?1"
    ))?;
    let rows = stmt.query_map([owner], c2c_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One C2C conversation of a user.
pub(super) fn c2c_one(
    conn: &Connection,
    owner: &str,
    peer: &str,
) -> StoreResult<Option<C2cConversationRecord>> {
    Ok(conn
        .query_row(
            &format!("SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = ?1 AND peer = ?2"),
            params![owner, peer],
            c2c_from_row,
        )
        .optional()?)
}

/// Sets `owner`'s read position in the C2C conversation with `peer`.
pub(super) fn set_c2c_read(
    conn: &Connection,
    owner: &str,
    peer: &str,
    seq: u64,
    time: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO c2c_conversations (owner, peer, read_seq, read_time) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (owner, peer) DO UPDATE SET \
         read_seq = excluded.read_seq, read_time = excluded.read_time",
        params![owner, peer, seq, time],
    )?;
    Ok(())
}

/// Sets a current member's group read position; [`StoreError::NotMember`] otherwise.
pub(super) fn set_group_read_seq(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
    seq: u64,
) -> StoreResult<()> {
    let changed = conn.execute(
        "UPDATE members SET read_seq = ?3 WHERE group_id = ?1 AND user_id = ?2 AND active = 1",
        params![group_id, user_id, seq],
    )?;
    if changed == 0 {
        return Err(StoreError::NotMember {
            group: group_id.into(),
            user: user_id.into(),
        });
    }
    Ok(())
}
