//! The `Store` implementation for SQLite: every query of the engine.

use async_trait::async_trait;
use roaring::RoaringBitmap;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::layout::{delete_conversation_receipts, insert_receipt_state, stored_readers};
use crate::codec::{decode_bitmap, encode_bitmap};
use crate::{
    C2cConversationRecord, ConvKey, GroupReceiptRecord, GroupReceiptUpdate, GroupRecord, GroupRole,
    GroupType, MemberRecord, MessageRecord, NewGroup, NewMember, NewMessage, StorageStats, Store,
    StoreError, StoreResult, UserProfile, UserRecord,
};

const GROUP_COLUMNS: &str = "group_id, group_type, name, owner, created_at, last_seq, member_count";
const MEMBER_COLUMNS: &str = "m.group_id, m.user_id, m.ordinal, m.role, m.joined_at, m.read_seq, \
     m.active, COALESCE(u.nick, ''), COALESCE(u.face_url, '')";
const MESSAGE_COLUMNS: &str = "msg_id, sender, receiver, group_id, timestamp, random, \
     need_receipt, excluded_unread, elem_type, body, cloud_custom_data, seq, receipt_at";

/// A stored value the schema allows but this build cannot read, as a row-mapping error.
fn unreadable(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
}

fn group_type_at(row: &Row<'_>, column: usize) -> rusqlite::Result<GroupType> {
    let name: String = row.get(column)?;
    GroupType::parse(&name).ok_or_else(|| unreadable(column, format!("unknown group type {name}")))
}

fn role_at(row: &Row<'_>, column: usize) -> rusqlite::Result<GroupRole> {
    GroupRole::try_from(row.get::<_, u32>(column)?).map_err(|e| unreadable(column, e))
}

fn group_from_row(row: &Row<'_>) -> rusqlite::Result<GroupRecord> {
    Ok(GroupRecord {
        group_id: row.get(0)?,
        group_type: group_type_at(row, 1)?,
        name: row.get(2)?,
        owner: row.get(3)?,
        created_at: row.get(4)?,
        last_seq: row.get(5)?,
        member_count: row.get(6)?,
    })
}

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<MemberRecord> {
    Ok(MemberRecord {
        group_id: row.get(0)?,
        user_id: row.get(1)?,
        ordinal: row.get(2)?,
        role: role_at(row, 3)?,
        joined_at: row.get(4)?,
        read_seq: row.get(5)?,
        active: row.get(6)?,
        profile: UserProfile {
            nick: row.get(7)?,
            face_url: row.get(8)?,
        },
    })
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    Ok(MessageRecord {
        message: NewMessage {
            msg_id: row.get(0)?,
            sender: row.get(1)?,
            receiver: row.get(2)?,
            group_id: row.get(3)?,
            timestamp: row.get(4)?,
            random: row.get(5)?,
            need_receipt: row.get(6)?,
            excluded_unread: row.get(7)?,
            elem_type: row.get(8)?,
            body: row.get(9)?,
            cloud_custom_data: row.get(10)?,
        },
        seq: row.get(11)?,
        receipt_at: row.get(12)?,
    })
}

fn load_member_bitmap(conn: &Connection, group_id: &str) -> StoreResult<Option<RoaringBitmap>> {
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT member_bitmap FROM groups WHERE group_id = ?1",
            [group_id],
            |row| row.get(0),
        )
        .optional()?;
    blob.map(|bytes| decode_bitmap(&bytes)).transpose()
}

fn save_member_bitmap(
    conn: &Connection,
    group_id: &str,
    bitmap: &mut RoaringBitmap,
) -> StoreResult<()> {
    bitmap.optimize();
    conn.execute(
        "UPDATE groups SET member_bitmap = ?2, member_count = ?3 WHERE group_id = ?1",
        params![group_id, encode_bitmap(bitmap)?, bitmap.len()],
    )?;
    Ok(())
}

/// Adds members inside the writer transaction; shared by group creation and later additions.
fn insert_members(
    conn: &Connection,
    group_id: &str,
    members: &[NewMember],
) -> StoreResult<Vec<bool>> {
    let mut bitmap = load_member_bitmap(conn, group_id)?
        .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
    let mut next_ordinal: u32 = conn.query_row(
        "SELECT next_ordinal FROM groups WHERE group_id = ?1",
        [group_id],
        |row| row.get(0),
    )?;
    let mut find = conn.prepare_cached(
        "SELECT ordinal, active FROM members WHERE group_id = ?1 AND user_id = ?2",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO members (group_id, user_id, ordinal, role, joined_at, read_seq, active) \
         VALUES (?1, ?2, ?3, ?4, ?5, (SELECT last_seq FROM groups WHERE group_id = ?1), 1)",
    )?;
    let mut rejoin = conn.prepare_cached(
        "UPDATE members SET active = 1, role = ?3, joined_at = ?4, \
         read_seq = (SELECT last_seq FROM groups WHERE group_id = ?1) \
         WHERE group_id = ?1 AND user_id = ?2",
    )?;
    let mut added = Vec::with_capacity(members.len());
    for member in members {
        let existing: Option<(u32, bool)> = find
            .query_row(params![group_id, member.user_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match existing {
            Some((_, true)) => added.push(false),
            Some((ordinal, false)) => {
                rejoin.execute(params![
                    group_id,
                    member.user_id,
                    u32::from(member.role),
                    member.joined_at
                ])?;
                bitmap.insert(ordinal);
                added.push(true);
            }
            None => {
                insert.execute(params![
                    group_id,
                    member.user_id,
                    next_ordinal,
                    u32::from(member.role),
                    member.joined_at
                ])?;
                bitmap.insert(next_ordinal);
                next_ordinal += 1;
                added.push(true);
            }
        }
    }
    conn.execute(
        "UPDATE groups SET next_ordinal = ?2 WHERE group_id = ?1",
        params![group_id, next_ordinal],
    )?;
    save_member_bitmap(conn, group_id, &mut bitmap)?;
    Ok(added)
}

fn query_group(conn: &Connection, group_id: &str) -> StoreResult<Option<GroupRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE group_id = ?1"
        ))?
        .query_row([group_id], group_from_row)
        .optional()?)
}

fn query_member(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
) -> StoreResult<Option<MemberRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members m LEFT JOIN users u ON u.user_id = m.user_id \
             WHERE m.group_id = ?1 AND m.user_id = ?2"
        ))?
        .query_row(params![group_id, user_id], member_from_row)
        .optional()?)
}

/// The ordinal of a current member; [`StoreError::NotMember`], or [`StoreError::NotFound`] when
/// the group does not exist.
fn active_member_ordinal(conn: &Connection, group_id: &str, user_id: &str) -> StoreResult<u32> {
    let ordinal: Option<u32> = conn
        .prepare_cached(
            "SELECT ordinal FROM members WHERE group_id = ?1 AND user_id = ?2 AND active = 1",
        )?
        .query_row(params![group_id, user_id], |row| row.get(0))
        .optional()?;
    match ordinal {
        Some(ordinal) => Ok(ordinal),
        None if query_group(conn, group_id)?.is_none() => {
            Err(StoreError::NotFound(format!("group {group_id}")))
        }
        None => Err(StoreError::NotMember {
            group: group_id.into(),
            user: user_id.into(),
        }),
    }
}

fn next_seq(conn: &Connection, conv: &str) -> StoreResult<u64> {
    let last: Option<u64> = conn.query_row(
        "SELECT MAX(seq) FROM messages WHERE conv = ?1",
        [conv],
        |row| row.get(0),
    )?;
    Ok(last.unwrap_or(0) + 1)
}

fn insert_message(conn: &Connection, conv: &str, seq: u64, m: &NewMessage) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO messages (msg_id, conv, seq, sender, receiver, group_id, timestamp, random, \
         need_receipt, excluded_unread, elem_type, body, cloud_custom_data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        m.msg_id,
        conv,
        seq,
        m.sender,
        m.receiver,
        m.group_id,
        m.timestamp,
        m.random,
        m.need_receipt,
        m.excluded_unread,
        m.elem_type,
        m.body,
        m.cloud_custom_data
    ])?;
    Ok(())
}

fn append_group_message(
    conn: &Connection,
    m: &NewMessage,
    group_id: &str,
    as_admin: bool,
) -> StoreResult<u64> {
    let sender = query_member(conn, group_id, &m.sender)?;
    let sender_ordinal = match sender {
        Some(member) if member.active => Some(member.ordinal),
        _ if as_admin && query_group(conn, group_id)?.is_some() => None,
        Some(_) => {
            return Err(StoreError::NotMember {
                group: group_id.into(),
                user: m.sender.clone(),
            });
        }
        None if query_group(conn, group_id)?.is_none() => {
            return Err(StoreError::NotFound(format!("group {group_id}")));
        }
        None => {
            return Err(StoreError::NotMember {
                group: group_id.into(),
                user: m.sender.clone(),
            });
        }
    };
    let seq: u64 = conn.query_row(
        "UPDATE groups SET last_seq = last_seq + 1 WHERE group_id = ?1 RETURNING last_seq",
        [group_id],
        |row| row.get(0),
    )?;
    insert_message(conn, &ConvKey::Group(group_id.into()).encode(), seq, m)?;
    if m.need_receipt {
        let mut recipients = load_member_bitmap(conn, group_id)?
            .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
        if let Some(ordinal) = sender_ordinal {
            recipients.remove(ordinal);
        }
        insert_receipt_state(conn, &m.msg_id, &mut recipients)?;
    }
    Ok(seq)
}

fn append_c2c_message(conn: &Connection, m: &NewMessage, receiver: &str) -> StoreResult<u64> {
    let conv = ConvKey::c2c(&m.sender, receiver).encode();
    let seq = next_seq(conn, &conv)?;
    insert_message(conn, &conv, seq, m)?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO c2c_conversations (owner, peer, last_seq, last_time, read_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (owner, peer) DO UPDATE SET last_seq = excluded.last_seq, \
         last_time = excluded.last_time, read_seq = MAX(read_seq, excluded.read_seq)",
    )?;
    // Sending reads nothing: the sender's read position stays where it was (own messages are
    // never unread anyway).
    upsert.execute(params![m.sender, receiver, seq, m.timestamp, 0])?;
    if receiver != m.sender {
        upsert.execute(params![receiver, m.sender, seq, m.timestamp, 0])?;
    }
    Ok(seq)
}

fn c2c_from_row(row: &Row<'_>) -> rusqlite::Result<C2cConversationRecord> {
    Ok(C2cConversationRecord {
        owner: row.get(0)?,
        peer: row.get(1)?,
        last_seq: row.get(2)?,
        last_time: row.get(3)?,
        read_seq: row.get(4)?,
        read_time: row.get(5)?,
    })
}

const C2C_COLUMNS: &str = "owner, peer, last_seq, last_time, read_seq, read_time";

impl SqliteStore {
    async fn append(&self, message: NewMessage, as_admin: bool) -> StoreResult<MessageRecord> {
        self.write(move |conn| {
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
            })
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ensure_user(
        &self,
        user_id: &str,
        profile: Option<UserProfile>,
        now: i64,
    ) -> StoreResult<bool> {
        let user_id = user_id.to_owned();
        self.write(move |conn| {
            let created = conn.execute(
                "INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?1, ?2)",
                params![user_id, now],
            )? == 1;
            if let Some(profile) = profile {
                conn.execute(
                    "UPDATE users SET nick = ?2, face_url = ?3 WHERE user_id = ?1",
                    params![user_id, profile.nick, profile.face_url],
                )?;
            }
            Ok(created)
        })
        .await
    }

    async fn get_users(&self, user_ids: &[String]) -> StoreResult<Vec<UserRecord>> {
        let user_ids = user_ids.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT user_id, nick, face_url, created_at FROM users WHERE user_id = ?1",
            )?;
            let mut users = Vec::with_capacity(user_ids.len());
            for user_id in &user_ids {
                if let Some(user) = stmt
                    .query_row([user_id], |row| {
                        Ok(UserRecord {
                            user_id: row.get(0)?,
                            profile: UserProfile {
                                nick: row.get(1)?,
                                face_url: row.get(2)?,
                            },
                            created_at: row.get(3)?,
                        })
                    })
                    .optional()?
                {
                    users.push(user);
                }
            }
            Ok(users)
        })
        .await
    }

    async fn delete_users(&self, user_ids: &[String]) -> StoreResult<Vec<bool>> {
        let user_ids = user_ids.to_vec();
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached("DELETE FROM users WHERE user_id = ?1")?;
            user_ids
                .iter()
                .map(|id| Ok(stmt.execute([id])? == 1))
                .collect()
        })
        .await
    }

    async fn list_groups(
        &self,
        after: &str,
        limit: u32,
        group_type: Option<GroupType>,
    ) -> StoreResult<(Vec<GroupRecord>, u64)> {
        let after = after.to_owned();
        let group_type = group_type.map(GroupType::as_str);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM groups WHERE group_id > ?1 \
                 AND (?2 IS NULL OR group_type = ?2) ORDER BY group_id LIMIT ?3"
            ))?;
            let groups = stmt
                .query_map(params![after, group_type, limit], group_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let total: u64 = conn.query_row(
                "SELECT COUNT(*) FROM groups WHERE (?1 IS NULL OR group_type = ?1)",
                [&group_type],
                |row| row.get(0),
            )?;
            Ok((groups, total))
        })
        .await
    }

    async fn create_group(
        &self,
        group: NewGroup,
        members: Vec<NewMember>,
    ) -> StoreResult<GroupRecord> {
        self.write(move |conn| {
            let inserted = conn.execute(
                "INSERT OR IGNORE INTO groups (group_id, group_type, name, owner, created_at, \
                 member_bitmap) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    group.group_id,
                    group.group_type.as_str(),
                    group.name,
                    group.owner,
                    group.created_at,
                    encode_bitmap(&RoaringBitmap::new())?
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("group {}", group.group_id)));
            }
            insert_members(conn, &group.group_id, &members)?;
            query_group(conn, &group.group_id)?
                .ok_or_else(|| StoreError::NotFound(format!("group {}", group.group_id)))
        })
        .await
    }

    async fn get_group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>> {
        let group_id = group_id.to_owned();
        self.read(move |conn| query_group(conn, &group_id)).await
    }

    async fn delete_group(&self, group_id: &str) -> StoreResult<()> {
        let group_id = group_id.to_owned();
        self.write_with_receipts(move |conn, receipts| {
            receipts.forget_group(&group_id);
            let conv = ConvKey::Group(group_id.clone()).encode();
            delete_conversation_receipts(conn, &conv)?;
            conn.execute("DELETE FROM messages WHERE conv = ?1", [&conv])?;
            conn.execute("DELETE FROM members WHERE group_id = ?1", [&group_id])?;
            conn.execute("DELETE FROM groups WHERE group_id = ?1", [&group_id])?;
            Ok(())
        })
        .await
    }

    async fn add_members(&self, group_id: &str, members: Vec<NewMember>) -> StoreResult<Vec<bool>> {
        let group_id = group_id.to_owned();
        self.write(move |conn| insert_members(conn, &group_id, &members))
            .await
    }

    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> StoreResult<Vec<bool>> {
        let group_id = group_id.to_owned();
        let user_ids = user_ids.to_vec();
        self.write(move |conn| {
            let mut bitmap = load_member_bitmap(conn, &group_id)?
                .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
            let mut removed = Vec::with_capacity(user_ids.len());
            for user_id in &user_ids {
                let ordinal: Option<u32> = conn
                    .query_row(
                        "UPDATE members SET active = 0 WHERE group_id = ?1 AND user_id = ?2 \
                         AND active = 1 RETURNING ordinal",
                        params![group_id, user_id],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(ordinal) = ordinal {
                    bitmap.remove(ordinal);
                }
                removed.push(ordinal.is_some());
            }
            save_member_bitmap(conn, &group_id, &mut bitmap)?;
            Ok(removed)
        })
        .await
    }

    async fn get_member(&self, group_id: &str, user_id: &str) -> StoreResult<Option<MemberRecord>> {
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        self.read(move |conn| {
            Ok(query_member(conn, &group_id, &user_id)?.filter(|member| member.active))
        })
        .await
    }

    async fn list_members(
        &self,
        group_id: &str,
        from_ordinal: u32,
        limit: u32,
        role: Option<GroupRole>,
    ) -> StoreResult<Vec<MemberRecord>> {
        let group_id = group_id.to_owned();
        let role = role.map(u32::from);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MEMBER_COLUMNS} FROM members m LEFT JOIN users u ON u.user_id = m.user_id \
                 WHERE m.group_id = ?1 AND m.ordinal >= ?2 AND m.active = 1 \
                 AND (?3 IS NULL OR m.role = ?3) ORDER BY m.ordinal LIMIT ?4"
            ))?;
            let rows = stmt.query_map(
                params![group_id, from_ordinal, role, limit],
                member_from_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn members_by_ordinal(
        &self,
        group_id: &str,
        ordinals: &[u32],
    ) -> StoreResult<Vec<MemberRecord>> {
        let group_id = group_id.to_owned();
        let ordinals = ordinals.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MEMBER_COLUMNS} FROM members m LEFT JOIN users u ON u.user_id = m.user_id \
                 WHERE m.group_id = ?1 AND m.ordinal = ?2"
            ))?;
            let mut members = Vec::with_capacity(ordinals.len());
            for ordinal in ordinals {
                if let Some(member) = stmt
                    .query_row(params![group_id, ordinal], member_from_row)
                    .optional()?
                {
                    members.push(member);
                }
            }
            Ok(members)
        })
        .await
    }

    async fn member_user_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        let group_id = group_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT user_id FROM members WHERE group_id = ?1 AND active = 1 ORDER BY ordinal",
            )?;
            let rows = stmt.query_map([group_id], |row| row.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
    }

    async fn joined_groups(&self, user_id: &str) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
        let user_id = user_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT group_id FROM members WHERE user_id = ?1 AND active = 1")?;
            let group_ids = stmt
                .query_map([&user_id], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            let mut joined = Vec::with_capacity(group_ids.len());
            for group_id in group_ids {
                if let (Some(group), Some(member)) = (
                    query_group(conn, &group_id)?,
                    query_member(conn, &group_id, &user_id)?,
                ) {
                    joined.push((group, member));
                }
            }
            Ok(joined)
        })
        .await
    }

    async fn set_group_read_seq(&self, group_id: &str, user_id: &str, seq: u64) -> StoreResult<()> {
        let (group_id, user_id) = (group_id.to_owned(), user_id.to_owned());
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE members SET read_seq = ?3 WHERE group_id = ?1 AND user_id = ?2 AND active = 1",
                params![group_id, user_id, seq],
            )?;
            if changed == 0 {
                return Err(StoreError::NotMember { group: group_id, user: user_id });
            }
            Ok(())
        })
        .await
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<MessageRecord> {
        self.append(message, false).await
    }

    async fn append_admin_message(&self, message: NewMessage) -> StoreResult<MessageRecord> {
        self.append(message, true).await
    }
    async fn get_messages(&self, msg_ids: &[String]) -> StoreResult<Vec<MessageRecord>> {
        let msg_ids = msg_ids.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE msg_id = ?1"
            ))?;
            let mut found = Vec::with_capacity(msg_ids.len());
            for msg_id in &msg_ids {
                if let Some(message) = stmt.query_row([msg_id], message_from_row).optional()? {
                    found.push(message);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn messages_by_seq(
        &self,
        conversation: &ConvKey,
        seqs: &[u64],
    ) -> StoreResult<Vec<MessageRecord>> {
        let conv = conversation.encode();
        let seqs = seqs.to_vec();
        self.read(move |conn| {
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
        })
        .await
    }

    async fn history(
        &self,
        conversation: &ConvKey,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        let conv = conversation.encode();
        let before = before_seq.unwrap_or(u64::MAX >> 1);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = ?1 AND seq < ?2 \
                 ORDER BY seq DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![conv, before, limit], message_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn seq_at_time(&self, conversation: &ConvKey, time: i64) -> StoreResult<u64> {
        let conv = conversation.encode();
        self.read(move |conn| {
            let seq: Option<u64> = conn.query_row(
                "SELECT MAX(seq) FROM messages WHERE conv = ?1 AND timestamp <= ?2",
                params![conv, time],
                |row| row.get(0),
            )?;
            Ok(seq.unwrap_or(0))
        })
        .await
    }

    async fn count_unread(
        &self,
        conversation: &ConvKey,
        after_seq: u64,
        viewer: &str,
    ) -> StoreResult<u64> {
        let conv = conversation.encode();
        let viewer = viewer.to_owned();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM messages WHERE conv = ?1 AND seq > ?2 AND sender != ?3 \
                 AND excluded_unread = 0",
                )?
                .query_row(params![conv, after_seq, viewer], |row| row.get(0))?)
        })
        .await
    }

    async fn c2c_conversations(&self, owner: &str) -> StoreResult<Vec<C2cConversationRecord>> {
        let owner = owner.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = ?1"
            ))?;
            let rows = stmt.query_map([owner], c2c_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn c2c_conversation(
        &self,
        owner: &str,
        peer: &str,
    ) -> StoreResult<Option<C2cConversationRecord>> {
        let (owner, peer) = (owner.to_owned(), peer.to_owned());
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = ?1 AND peer = ?2"
                    ),
                    params![owner, peer],
                    c2c_from_row,
                )
                .optional()?)
        })
        .await
    }

    async fn set_c2c_read(&self, owner: &str, peer: &str, seq: u64, time: i64) -> StoreResult<()> {
        let (owner, peer) = (owner.to_owned(), peer.to_owned());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO c2c_conversations (owner, peer, read_seq, read_time) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (owner, peer) DO UPDATE SET \
                 read_seq = excluded.read_seq, read_time = excluded.read_time",
                params![owner, peer, seq, time],
            )?;
            Ok(())
        })
        .await
    }

    async fn record_c2c_receipts(&self, msg_ids: &[String], time: i64) -> StoreResult<Vec<bool>> {
        let msg_ids = msg_ids.to_vec();
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "UPDATE messages SET receipt_at = ?2 WHERE msg_id = ?1 AND receipt_at IS NULL",
            )?;
            let mut newly = Vec::with_capacity(msg_ids.len());
            for msg_id in &msg_ids {
                newly.push(stmt.execute(params![msg_id, time])? == 1);
            }
            Ok(newly)
        })
        .await
    }

    async fn record_group_receipts(
        &self,
        group_id: &str,
        reader: &str,
        msg_ids: Vec<String>,
    ) -> StoreResult<Vec<GroupReceiptUpdate>> {
        let (group_id, reader) = (group_id.to_owned(), reader.to_owned());
        self.write_with_receipts(move |conn, receipts| {
            let reader_ordinal = active_member_ordinal(conn, &group_id, &reader)?;
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
            }
            msg_ids
                .into_iter()
                .map(|msg_id| receipts.add_reader(conn, msg_id, reader_ordinal))
                .collect()
        })
        .await
    }

    async fn group_receipts(&self, msg_ids: &[String]) -> StoreResult<Vec<GroupReceiptRecord>> {
        let msg_ids = msg_ids.to_vec();
        self.read(move |conn| {
            let mut load = conn.prepare_cached(
                "SELECT recipients, readers FROM group_receipts WHERE msg_id = ?1",
            )?;
            let mut records = Vec::with_capacity(msg_ids.len());
            for msg_id in msg_ids {
                let blobs: Option<(Vec<u8>, Vec<u8>)> = load
                    .query_row([&msg_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()?;
                if let Some((recipients, readers)) = blobs {
                    let (readers, _) = stored_readers(conn, &msg_id, &readers)?;
                    records.push(GroupReceiptRecord {
                        msg_id,
                        recipients: decode_bitmap(&recipients)?,
                        readers,
                    });
                }
            }
            Ok(records)
        })
        .await
    }
}

#[async_trait]
impl StorageStats for SqliteStore {
    async fn read_state_bytes(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let bytes: i64 = conn.query_row(
                "SELECT (SELECT COALESCE(SUM(length(recipients) + length(readers) + length(msg_id)), 0) \
                 FROM group_receipts) + (SELECT COALESCE(SUM(length(readers) + length(msg_id) + 8), 0) \
                 FROM group_receipt_deltas)",
                [],
                |row| row.get(0),
            )?;
            Ok(u64::try_from(bytes).unwrap_or(0))
        })
        .await
    }
}
