//! SQLite queries of conversation state: each user's C2C conversations (last message, read
//! position, place in the list), each member's group read position, and the conversation list
//! read in activity order.

use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{
    C2C_COLUMNS, GROUP_COLUMNS, MEMBER_COLUMNS, c2c_from_row, group_from_row,
    member_from_row_offset,
};
use super::users::private_receipts;
use crate::{
    C2cConversationRecord, ConversationEntry, ReadMoved, ReadScope, StoreError, StoreResult,
};

/// The next number of the one activity counter (see `schema_v5.sql`). Only the writer calls
/// it, one job after another, so numbers are unique and increasing.
pub(super) fn next_activity(conn: &Connection) -> StoreResult<u64> {
    Ok(conn
        .prepare_cached(
            "UPDATE conversation_activity SET last = last + 1 WHERE id = 1 RETURNING last",
        )?
        .query_row([], |row| row.get(0))?)
}

/// Notes a C2C message in the conversation state of its sender and its receiver.
pub(super) fn note_c2c_message(
    conn: &Connection,
    sender: &str,
    receiver: &str,
    seq: u64,
    time: i64,
) -> StoreResult<()> {
    let activity = next_activity(conn)?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO c2c_conversations (owner, peer, last_seq, last_time, read_seq, activity) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (owner, peer) DO UPDATE SET last_seq = excluded.last_seq, \
         last_time = excluded.last_time, read_seq = MAX(read_seq, excluded.read_seq), \
         activity = excluded.activity",
    )?;
    // Sending reads nothing: the sender's read position stays where it was (own messages are
    // never unread anyway).
    upsert.execute(params![sender, receiver, seq, time, 0, activity])?;
    if receiver != sender {
        upsert.execute(params![receiver, sender, seq, time, 0, activity])?;
    }
    Ok(())
}

/// A page of the owner's conversation list, newest activity first, below `before`.
pub(super) fn page(
    conn: &Connection,
    owner: &str,
    before: Option<u64>,
    limit: u32,
) -> StoreResult<Vec<ConversationEntry>> {
    // Activity numbers are below 2^63: the counter counts messages.
    let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let mut c2c = conn.prepare_cached(&format!(
        "SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = ?1 AND activity < ?2 \
         ORDER BY activity DESC LIMIT ?3"
    ))?;
    let mut entries = c2c
        .query_map(params![owner, before, limit], c2c_from_row)?
        .map(|row| row.map(ConversationEntry::C2c))
        .collect::<Result<Vec<_>, _>>()?;
    let group_columns = prefixed("g", GROUP_COLUMNS);
    let mut groups = conn.prepare_cached(&format!(
        "SELECT {group_columns}, {MEMBER_COLUMNS} FROM members m \
         JOIN groups g ON g.group_id = m.group_id LEFT JOIN users u ON u.user_id = m.user_id \
         WHERE m.user_id = ?1 AND m.active = 1 AND g.activity < ?2 \
         ORDER BY g.activity DESC LIMIT ?3"
    ))?;
    let group_entries = groups.query_map(params![owner, before, limit], |row| {
        Ok(ConversationEntry::Group(
            group_from_row(row)?,
            member_from_row_offset(row, GROUP_COLUMN_COUNT)?,
        ))
    })?;
    for entry in group_entries {
        entries.push(entry?);
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.activity()));
    entries.truncate(limit as usize);
    Ok(entries)
}

/// How many columns [`GROUP_COLUMNS`] selects: a joined query's next columns start there.
pub(super) const GROUP_COLUMN_COUNT: usize = 8;

/// `columns` with each name qualified by `table`.
pub(super) fn prefixed(table: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The owner's unread messages over all C2C conversations and groups (not AVChatRoom ones).
pub(super) fn total_unread(conn: &Connection, owner: &str) -> StoreResult<u64> {
    let c2c: u64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM c2c_conversations c JOIN messages m \
             ON m.conv = 'c ' || MIN(c.owner, c.peer) || ' ' || MAX(c.owner, c.peer) \
             AND m.seq > c.read_seq AND m.sender != c.owner AND m.excluded_unread = 0 \
             WHERE c.owner = ?1",
        )?
        .query_row([owner], |row| row.get(0))?;
    let groups: u64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM members mb JOIN groups g ON g.group_id = mb.group_id \
             JOIN messages m ON m.conv = 'g ' || g.group_id AND m.seq > mb.read_seq \
             AND m.sender != mb.user_id AND m.excluded_unread = 0 \
             WHERE mb.user_id = ?1 AND mb.active = 1 AND g.group_type != 'AVChatRoom'",
        )?
        .query_row([owner], |row| row.get(0))?;
    Ok(c2c + groups)
}

/// Marks read every conversation of the scope that is behind its last message.
pub(super) fn mark_all_read(
    conn: &Connection,
    owner: &str,
    scope: ReadScope,
    now: i64,
) -> StoreResult<Vec<ReadMoved>> {
    let mut moved = Vec::new();
    if scope.c2c {
        let private = private_receipts(conn, owner)?.unwrap_or(false);
        // The right-hand sides read the row as it was.
        let mut stmt = conn.prepare_cached(
            "UPDATE c2c_conversations SET read_seq = last_seq, read_time = MAX(read_time, ?2), \
             shown_read_seq = CASE WHEN ?3 THEN shown_read_seq ELSE last_seq END, \
             shown_read_time = CASE WHEN ?3 THEN shown_read_time ELSE MAX(read_time, ?2) END \
             WHERE owner = ?1 AND read_seq < last_seq RETURNING peer, read_seq, read_time",
        )?;
        let rows = stmt.query_map(params![owner, now, private], |row| {
            Ok(ReadMoved::C2c {
                peer: row.get(0)?,
                read_seq: row.get(1)?,
                read_time: row.get(2)?,
                shown: !private,
            })
        })?;
        for row in rows {
            moved.push(row?);
        }
    }
    if scope.groups {
        let mut stmt = conn.prepare_cached(
            "UPDATE members SET read_seq = g.last_seq FROM groups g \
             WHERE members.user_id = ?1 AND members.active = 1 \
             AND g.group_id = members.group_id AND members.read_seq < g.last_seq \
             RETURNING members.group_id, members.read_seq",
        )?;
        let rows = stmt.query_map([owner], |row| {
            Ok(ReadMoved::Group {
                group_id: row.get(0)?,
                read_seq: row.get(1)?,
            })
        })?;
        for row in rows {
            moved.push(row?);
        }
    }
    Ok(moved)
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

/// Sets `owner`'s read position in the C2C conversation with `peer`, and the one the peer is
/// shown unless the owner keeps receipts private; whether the shown one was set.
pub(super) fn set_c2c_read(
    conn: &Connection,
    owner: &str,
    peer: &str,
    seq: u64,
    time: i64,
) -> StoreResult<bool> {
    let exists = c2c_one(conn, owner, peer)?.is_some();
    let private = private_receipts(conn, owner)?.unwrap_or(false);
    // A conversation first made by marking it read takes its place in the list now.
    let activity = if exists { 0 } else { next_activity(conn)? };
    conn.prepare_cached(
        "INSERT INTO c2c_conversations \
         (owner, peer, read_seq, read_time, activity, shown_read_seq, shown_read_time) \
         VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?6 THEN 0 ELSE ?3 END, \
         CASE WHEN ?6 THEN 0 ELSE ?4 END) ON CONFLICT (owner, peer) DO UPDATE SET \
         read_seq = excluded.read_seq, read_time = excluded.read_time, \
         shown_read_seq = CASE WHEN ?6 THEN shown_read_seq ELSE excluded.read_seq END, \
         shown_read_time = CASE WHEN ?6 THEN shown_read_time ELSE excluded.read_time END",
    )?
    .execute(params![owner, peer, seq, time, activity, private])?;
    Ok(!private)
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
