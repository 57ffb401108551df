//! SQLite queries of messages: appending (with the sequence and, for a group message asking for
//! receipts, its recipients), storing `onlineUserOnly` messages that ask for receipts outside
//! the sequence, reading by ID or sequence, history (whole, or what one member sees of a group
//! with targeted messages), the runs of targeted messages, mentions, and unread counts.

use rusqlite::{Connection, OptionalExtension, ToSql, params};
use tidings_proto::methods::GROUP_AT_ALL;

use super::layout::insert_receipt_state;
use super::receipt_cache::ReceiptCache;
use super::rows::{MESSAGE_COLUMNS, ONLINE_MESSAGE_COLUMNS, message_from_row};
use super::{conversations, groups};
use crate::codec::{MessageRow, decode_ids, insert_message_statement, message_row_params};
use crate::{
    ConvKey, Mention, MessageRecord, NewMessage, Revocation, StoreError, StoreResult, TargetedSeq,
};

/// Stores a message with the next sequence of its conversation. `as_admin`: a group message
/// of the App administrator, who need not be a member.
pub(super) fn append(
    conn: &Connection,
    message: NewMessage,
    as_admin: bool,
) -> StoreResult<MessageRecord> {
    let seq = match (&message.group_id, &message.receiver) {
        (Some(group_id), _) => append_group_message(conn, &message, group_id, as_admin)?,
        (None, Some(receiver)) => append_c2c_message(conn, &message, receiver)?,
        (None, None) => {
            return Err(StoreError::NotFound("message receiver".into()));
        }
    };
    Ok(MessageRecord {
        message,
        seq,
        receipt_at: None,
        revoked: None,
    })
}

/// Stores an `onlineUserOnly` message that asks for receipts outside its conversation's
/// sequence (seq 0), with a group message's recipients. `as_admin` as for [`append`].
pub(super) fn append_online(
    conn: &Connection,
    message: NewMessage,
    as_admin: bool,
) -> StoreResult<MessageRecord> {
    if message.group_id.is_none() && message.receiver.is_none() {
        return Err(StoreError::NotFound("message receiver".into()));
    }
    let sender_ordinal = match &message.group_id {
        Some(group_id) => Some(group_sender_ordinal(conn, &message, group_id, as_admin)?),
        None => None,
    };
    insert_message(conn, &message.conv_key().encode(), None, &message)?;
    if let (Some(group_id), Some(sender_ordinal)) = (&message.group_id, sender_ordinal) {
        insert_recipients(conn, &message, group_id, sender_ordinal)?;
    }
    Ok(MessageRecord {
        message,
        seq: 0,
        receipt_at: None,
        revoked: None,
    })
}

/// The sender's ordinal in the group, or None for the App administrator who is not a member
/// (`as_admin`). Fails when the group does not exist or the sender may not send to it.
fn group_sender_ordinal(
    conn: &Connection,
    m: &NewMessage,
    group_id: &str,
    as_admin: bool,
) -> StoreResult<Option<u32>> {
    let sender = groups::member(conn, group_id, &m.sender)?;
    let sender_ordinal = match sender {
        Some(member) if member.active => Some(member.ordinal),
        _ if as_admin && groups::get(conn, group_id)?.is_some() => None,
        Some(_) => {
            return Err(StoreError::NotMember {
                group: group_id.into(),
                user: m.sender.clone(),
            });
        }
        None if groups::get(conn, group_id)?.is_none() => {
            return Err(StoreError::NotFound(format!("group {group_id}")));
        }
        None => {
            return Err(StoreError::NotMember {
                group: group_id.into(),
                user: m.sender.clone(),
            });
        }
    };
    Ok(sender_ordinal)
}

/// Records the receipt state of a group message that asks for receipts: its recipients are the
/// current members (of a targeted message: its targets who are current members) minus the
/// sender (`sender_ordinal`), none has read it yet.
fn insert_recipients(
    conn: &Connection,
    m: &NewMessage,
    group_id: &str,
    sender_ordinal: Option<u32>,
) -> StoreResult<()> {
    if m.need_receipt {
        let mut recipients = groups::member_bitmap(conn, group_id)?
            .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
        if !m.targets.is_empty() {
            let mut targets = roaring::RoaringBitmap::new();
            for target in &m.targets {
                if let Some(member) = groups::member(conn, group_id, target)? {
                    targets.insert(member.ordinal);
                }
            }
            // The member bitmap holds current members only.
            recipients &= targets;
        }
        if let Some(ordinal) = sender_ordinal {
            recipients.remove(ordinal);
        }
        insert_receipt_state(conn, &m.msg_id, &mut recipients)?;
    }
    Ok(())
}

fn append_group_message(
    conn: &Connection,
    m: &NewMessage,
    group_id: &str,
    as_admin: bool,
) -> StoreResult<u64> {
    let sender_ordinal = group_sender_ordinal(conn, m, group_id, as_admin)?;
    let activity = conversations::next_activity(conn)?;
    let seq: u64 = conn.query_row(
        "UPDATE groups SET last_seq = last_seq + 1, activity = ?2 WHERE group_id = ?1 \
         RETURNING last_seq",
        params![group_id, activity],
        |row| row.get(0),
    )?;
    insert_message(
        conn,
        &ConvKey::Group(group_id.into()).encode(),
        Some(seq),
        m,
    )?;
    insert_recipients(conn, m, group_id, sender_ordinal)?;
    Ok(seq)
}

fn append_c2c_message(conn: &Connection, m: &NewMessage, receiver: &str) -> StoreResult<u64> {
    let conv = ConvKey::c2c(&m.sender, receiver).encode();
    let seq = next_seq(conn, &conv)?;
    insert_message(conn, &conv, Some(seq), m)?;
    conversations::note_c2c_message(conn, &m.sender, receiver, seq, m.timestamp)?;
    Ok(seq)
}

/// The sequence after the last of a conversation. Reading MAX(seq) and then inserting is
/// correct only because this engine's one writer thread runs every write, one job after
/// another: no other append can take the same sequence in between.
fn next_seq(conn: &Connection, conv: &str) -> StoreResult<u64> {
    let last: Option<u64> = conn.query_row(
        "SELECT MAX(seq) FROM messages WHERE conv = ?1",
        [conv],
        |row| row.get(0),
    )?;
    Ok(last.unwrap_or(0) + 1)
}

/// Stores a message's row: in `messages` at sequence `seq`, or, for an `onlineUserOnly` message
/// kept for its receipts (`seq` None), in `online_messages`, which stores the same columns but
/// the sequence.
fn insert_message(
    conn: &Connection,
    conv: &str,
    seq: Option<u64>,
    m: &NewMessage,
) -> StoreResult<()> {
    let row = MessageRow::new(m, conv);
    let params = message_row_params!(row, &seq, dyn ToSql);
    conn.prepare_cached(insert_message_statement(seq.is_some()))?
        .execute(&*params)?;
    Ok(())
}

/// The named messages that exist, stored or `onlineUserOnly` ones with receipts.
pub(super) fn get(conn: &Connection, msg_ids: &[String]) -> StoreResult<Vec<MessageRecord>> {
    let mut stored = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE msg_id = ?1"
    ))?;
    let mut online = conn.prepare_cached(&format!(
        "SELECT {ONLINE_MESSAGE_COLUMNS} FROM online_messages WHERE msg_id = ?1"
    ))?;
    let mut found = Vec::with_capacity(msg_ids.len());
    for msg_id in msg_ids {
        let message = match stored.query_row([msg_id], message_from_row).optional()? {
            Some(message) => Some(message),
            None => online.query_row([msg_id], message_from_row).optional()?,
        };
        found.extend(message);
    }
    Ok(found)
}

/// The messages of a conversation with these sequences that exist.
pub(super) fn by_seq(
    conn: &Connection,
    conversation: &ConvKey,
    seqs: &[u64],
) -> StoreResult<Vec<MessageRecord>> {
    let conv = conversation.encode();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND seq = ?2"
    ))?;
    let mut found = Vec::with_capacity(seqs.len());
    for seq in seqs {
        if let Some(record) = stmt
            .query_row(params![conv, seq], message_from_row)
            .optional()?
        {
            found.push(record);
        }
    }
    Ok(found)
}

/// Up to `limit` messages of a conversation before `before_seq` (all when None), newest first.
pub(super) fn history(
    conn: &Connection,
    conversation: &ConvKey,
    before_seq: Option<u64>,
    limit: u32,
) -> StoreResult<Vec<MessageRecord>> {
    let conv = conversation.encode();
    let before = before_seq.unwrap_or(u64::MAX >> 1);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND seq < ?2 \
         ORDER BY seq DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![conv, before, limit], message_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Up to `limit` messages of a conversation before `before_seq` (all when None) that `viewer`
/// sees (not targeted, or sent by or targeted at `viewer`), newest first.
pub(super) fn visible_history(
    conn: &Connection,
    conversation: &ConvKey,
    viewer: &str,
    before_seq: Option<u64>,
    limit: u32,
) -> StoreResult<Vec<MessageRecord>> {
    let conv = conversation.encode();
    let before = before_seq.unwrap_or(u64::MAX >> 1);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND seq < ?2 \
         AND (targets IS NULL OR sender = ?4 OR instr(targets, char(10) || ?4 || char(10)) > 0) \
         ORDER BY seq DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![conv, before, limit, viewer], message_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The targeted messages of a group after its last untargeted message below `before_seq` and
/// below `before_seq`, oldest first; the newest `limit` of them when there are more.
pub(super) fn targeted_before(
    conn: &Connection,
    group_id: &str,
    before_seq: u64,
    limit: u32,
) -> StoreResult<Vec<TargetedSeq>> {
    let conv = ConvKey::Group(group_id.to_owned()).encode();
    let mut stmt = conn.prepare_cached(
        "SELECT seq, sender, targets FROM messages WHERE conv = ?1 AND seq < ?2 \
         AND targets IS NOT NULL AND seq > COALESCE((SELECT seq FROM messages \
         WHERE conv = ?1 AND seq < ?2 AND targets IS NULL ORDER BY seq DESC LIMIT 1), 0) \
         ORDER BY seq DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![conv, before_seq, limit], |row| {
        Ok(TargetedSeq {
            seq: row.get(0)?,
            sender: row.get(1)?,
            targets: decode_ids(row.get::<_, Option<String>>(2)?.as_deref()),
        })
    })?;
    let mut found = rows.collect::<Result<Vec<_>, _>>()?;
    found.reverse();
    Ok(found)
}

/// The messages of a group after `after_seq` not sent by `viewer` that mention it or everyone,
/// oldest first, at most `limit`.
pub(super) fn mentions_after(
    conn: &Connection,
    group_id: &str,
    after_seq: u64,
    viewer: &str,
    limit: u32,
) -> StoreResult<Vec<Mention>> {
    let conv = ConvKey::Group(group_id.to_owned()).encode();
    let mut stmt = conn.prepare_cached(
        "SELECT seq, instr(at_users, char(10) || ?3 || char(10)) > 0, \
         instr(at_users, char(10) || ?4 || char(10)) > 0 FROM messages \
         WHERE conv = ?1 AND seq > ?2 AND at_users IS NOT NULL AND sender != ?3 \
         AND (instr(at_users, char(10) || ?3 || char(10)) > 0 \
         OR instr(at_users, char(10) || ?4 || char(10)) > 0) ORDER BY seq LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![conv, after_seq, viewer, GROUP_AT_ALL, limit],
        |row| {
            Ok(Mention {
                seq: row.get(0)?,
                me: row.get(1)?,
                all: row.get(2)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The sequence of the newest message at or before `time` in a conversation (0 if none).
pub(super) fn seq_at_time(
    conn: &Connection,
    conversation: &ConvKey,
    time: i64,
) -> StoreResult<u64> {
    let seq: Option<u64> = conn.query_row(
        "SELECT MAX(seq) FROM messages WHERE conv = ?1 AND timestamp <= ?2",
        params![conversation.encode(), time],
        |row| row.get(0),
    )?;
    Ok(seq.unwrap_or(0))
}

/// Messages after `after_seq` that are not the viewer's own nor excluded from unread counts.
pub(super) fn count_unread(
    conn: &Connection,
    conversation: &ConvKey,
    after_seq: u64,
    viewer: &str,
) -> StoreResult<u64> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE conv = ?1 AND seq > ?2 AND sender != ?3 \
             AND excluded_unread = 0",
        )?
        .query_row(params![conversation.encode(), after_seq, viewer], |row| {
            row.get(0)
        })?)
}

/// Recalls a message (see `Store::revoke_message`). The writer is the only connection that
/// records receipts, so marking the held receipt state too is all it takes for no receipt to
/// follow.
pub(super) fn revoke(
    conn: &Connection,
    receipts: &mut ReceiptCache,
    msg_id: &str,
    revocation: Revocation,
) -> StoreResult<Option<(MessageRecord, bool)>> {
    let changed =
        conn.prepare_cached(
            "UPDATE messages SET revoked_at = ?2, revoked_by = ?3, revoke_reason = ?4, \
             body = '', cloud_custom_data = '' WHERE msg_id = ?1 AND revoked_at IS NULL",
        )?
        .execute(params![
            msg_id,
            revocation.at,
            revocation.by,
            revocation.reason
        ])? == 1;
    // Of stored messages only: an `onlineUserOnly` one is not recalled.
    let record = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE msg_id = ?1"
        ))?
        .query_row([msg_id], message_from_row)
        .optional()?;
    // Last, after every statement that could fail: a failed job's savepoint rolls back its SQL,
    // not this cache.
    if changed {
        receipts.mark_revoked(msg_id);
    }
    Ok(record.map(|record| (record, changed)))
}
