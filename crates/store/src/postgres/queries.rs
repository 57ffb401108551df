//! The `Store` implementation for PostgreSQL: each call one transaction (or one statement).

use std::collections::{HashMap, HashSet};

use super::cached::CachedQueries;
use async_trait::async_trait;
use roaring::RoaringBitmap;
use tokio_postgres::types::ToSql;

use super::PgStore;
use super::rows::{
    self, C2C_COLUMNS, GROUP_COLUMNS, MEMBER_COLUMNS, MESSAGE_COLUMNS, ONLINE_MESSAGE_COLUMNS,
    USER_COLUMNS, bigint,
};
use crate::codec::{
    MessageRow, decode_bitmap, decode_ids, encode_bitmap, insert_message_statement,
    message_row_params,
};
use crate::profile::{apply, encode_custom};
use crate::{
    C2cConversationRecord, C2cReceiptsRecorded, ConvKey, ConversationParts, GroupCounts,
    GroupReceiptRecord, GroupReceiptUpdate, GroupRecord, GroupRole, GroupType, MemberRecord,
    Mention, MessageRecord, NewGroup, NewMember, NewMessage, PartsLimits, ProfileUpdate,
    ProfileUpdated, ReadMoved, ReadScope, Revocation, StorageStats, Store, StoreError, StoreResult,
    TargetedSeq, UserCard, UserRecord,
};
use tidings_proto::methods::GROUP_AT_ALL;

/// The group row, locked until the transaction ends: the member bitmap, next ordinal and last
/// sequence it returns stay true until then. None when there is no such group.
async fn lock_group(
    tx: &impl CachedQueries,
    group_id: &str,
) -> StoreResult<Option<(RoaringBitmap, u32, i64)>> {
    let row = tx
        .query_opt(
            "SELECT member_bitmap, next_ordinal, last_seq FROM groups WHERE group_id = $1 \
             FOR UPDATE",
            &[&group_id],
        )
        .await?;
    row.map(|row| {
        let bitmap: Vec<u8> = row.try_get(0)?;
        let next: i64 = row.try_get(1)?;
        let next = u32::try_from(next)
            .map_err(|_| StoreError::Corrupt(format!("group {group_id} next ordinal {next}")))?;
        Ok((decode_bitmap(&bitmap)?, next, row.try_get(2)?))
    })
    .transpose()
}

async fn save_member_bitmap(
    tx: &impl CachedQueries,
    group_id: &str,
    bitmap: &mut RoaringBitmap,
    next_ordinal: u32,
) -> StoreResult<()> {
    bitmap.optimize();
    tx.execute(
        "UPDATE groups SET member_bitmap = $2, member_count = $3, next_ordinal = $4 \
         WHERE group_id = $1",
        &[
            &group_id,
            &encode_bitmap(bitmap)?,
            &bigint(bitmap.len())?,
            &i64::from(next_ordinal),
        ],
    )
    .await?;
    Ok(())
}

/// Adds members under the group row's lock; shared by creation and later additions.
async fn insert_members(
    tx: &impl CachedQueries,
    group_id: &str,
    members: &[NewMember],
) -> StoreResult<Vec<bool>> {
    let (mut bitmap, mut next_ordinal, last_seq) = lock_group(tx, group_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
    let user_ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    // (ordinal, active) of every named user who was ever a member.
    let mut known: HashMap<String, (u32, bool)> = HashMap::new();
    for row in tx
        .query(
            "SELECT user_id, ordinal, active FROM members WHERE group_id = $1 \
             AND user_id = ANY($2)",
            &[&group_id, &user_ids],
        )
        .await?
    {
        let ordinal: i64 = row.try_get(1)?;
        let ordinal = u32::try_from(ordinal)
            .map_err(|_| StoreError::Corrupt(format!("member ordinal {ordinal}")))?;
        known.insert(row.try_get(0)?, (ordinal, row.try_get(2)?));
    }
    let (mut fresh, mut rejoined) = (Vec::new(), Vec::new());
    let mut added = Vec::with_capacity(members.len());
    for member in members {
        let state = known.get(&member.user_id).copied();
        match state {
            Some((_, true)) => added.push(false),
            Some((ordinal, false)) => {
                rejoined.push(member);
                bitmap.insert(ordinal);
                known.insert(member.user_id.clone(), (ordinal, true));
                added.push(true);
            }
            None => {
                fresh.push((member, next_ordinal));
                bitmap.insert(next_ordinal);
                known.insert(member.user_id.clone(), (next_ordinal, true));
                next_ordinal += 1;
                added.push(true);
            }
        }
    }
    if !fresh.is_empty() {
        let users: Vec<&str> = fresh.iter().map(|(m, _)| m.user_id.as_str()).collect();
        let ordinals: Vec<i64> = fresh.iter().map(|(_, o)| i64::from(*o)).collect();
        let roles: Vec<i64> = fresh
            .iter()
            .map(|(m, _)| i64::from(u32::from(m.role)))
            .collect();
        let joined: Vec<i64> = fresh.iter().map(|(m, _)| m.joined_at).collect();
        tx.execute(
            "INSERT INTO members (group_id, user_id, ordinal, role, joined_at, read_seq, active) \
             SELECT $1, u, o, r, j, $6, TRUE \
             FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS n(u, o, r, j)",
            &[&group_id, &users, &ordinals, &roles, &joined, &last_seq],
        )
        .await?;
    }
    if !rejoined.is_empty() {
        let users: Vec<&str> = rejoined.iter().map(|m| m.user_id.as_str()).collect();
        let roles: Vec<i64> = rejoined
            .iter()
            .map(|m| i64::from(u32::from(m.role)))
            .collect();
        let joined: Vec<i64> = rejoined.iter().map(|m| m.joined_at).collect();
        tx.execute(
            "UPDATE members SET active = TRUE, role = n.r, joined_at = n.j, read_seq = $5 \
             FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS n(u, r, j) \
             WHERE members.group_id = $1 AND members.user_id = n.u",
            &[&group_id, &users, &roles, &joined, &last_seq],
        )
        .await?;
    }
    save_member_bitmap(tx, group_id, &mut bitmap, next_ordinal).await?;
    Ok(added)
}

async fn query_group(tx: &impl CachedQueries, group_id: &str) -> StoreResult<Option<GroupRecord>> {
    tx.query_opt(
        &format!("SELECT {GROUP_COLUMNS} FROM groups WHERE group_id = $1"),
        &[&group_id],
    )
    .await?
    .map(|row| rows::group(&row))
    .transpose()
}

async fn query_member(
    tx: &impl CachedQueries,
    group_id: &str,
    user_id: &str,
) -> StoreResult<Option<MemberRecord>> {
    tx.query_opt(
        &format!(
            "SELECT {MEMBER_COLUMNS} FROM members m LEFT JOIN users u ON u.user_id = m.user_id \
             WHERE m.group_id = $1 AND m.user_id = $2"
        ),
        &[&group_id, &user_id],
    )
    .await?
    .map(|row| rows::member(&row))
    .transpose()
}

/// Stores a message's row: in `messages` at sequence `seq`, or, for an `onlineUserOnly` message
/// kept for its receipts (`seq` None), in `online_messages`, which stores the same columns but
/// the sequence.
async fn insert_message(
    tx: &impl CachedQueries,
    conv: &str,
    seq: Option<i64>,
    m: &NewMessage,
) -> StoreResult<()> {
    let row = MessageRow::new(m, conv);
    let params = message_row_params!(row, &seq, (dyn ToSql + Sync));
    tx.execute(insert_message_statement(seq.is_some()), &params)
        .await?;
    Ok(())
}

/// The sender's ordinal in the group, to leave out of a message's recipients: None for an
/// administrator who sends without being a member. Refuses a sender who is neither.
async fn sender_ordinal(
    tx: &impl CachedQueries,
    group_id: &str,
    sender: &str,
    as_admin: bool,
) -> StoreResult<Option<u32>> {
    match query_member(tx, group_id, sender).await? {
        Some(member) if member.active => Ok(Some(member.ordinal)),
        _ if as_admin => Ok(None),
        _ => Err(StoreError::NotMember {
            group: group_id.into(),
            user: sender.into(),
        }),
    }
}

async fn append_group_message(
    tx: &impl CachedQueries,
    m: &NewMessage,
    group_id: &str,
    as_admin: bool,
) -> StoreResult<i64> {
    // Taking the next sequence locks the group row: concurrent sends to the group (from any
    // node) wait here, so sequences are unique and gapless and the member bitmap read below is
    // the one at this sequence.
    let row = tx
        .query_opt(
            "UPDATE groups SET last_seq = last_seq + 1, \
             activity = nextval('conversation_activity') WHERE group_id = $1 \
             RETURNING last_seq, member_bitmap",
            &[&group_id],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
    let seq: i64 = row.try_get(0)?;
    let sender_ordinal = sender_ordinal(tx, group_id, &m.sender, as_admin).await?;
    insert_message(tx, &ConvKey::Group(group_id.into()).encode(), Some(seq), m).await?;
    let bitmap: Vec<u8> = row.try_get(1)?;
    insert_recipients(tx, m, group_id, decode_bitmap(&bitmap)?, sender_ordinal).await?;
    Ok(seq)
}

/// Records the receipt state of a group message that asks for receipts: its recipients are
/// `members` (the member bitmap read under the group row's lock; of a targeted message, only
/// its targets among them) minus the sender (`sender_ordinal`), none has read it yet.
async fn insert_recipients(
    tx: &impl CachedQueries,
    m: &NewMessage,
    group_id: &str,
    mut recipients: RoaringBitmap,
    sender_ordinal: Option<u32>,
) -> StoreResult<()> {
    if m.need_receipt {
        if !m.targets.is_empty() {
            let rows = tx
                .query(
                    "SELECT ordinal FROM members WHERE group_id = $1 AND user_id = ANY($2)",
                    &[&group_id, &m.targets],
                )
                .await?;
            let mut targets = RoaringBitmap::new();
            for row in rows {
                let ordinal: i64 = row.try_get(0)?;
                targets.insert(u32::try_from(ordinal).map_err(|_| {
                    StoreError::Corrupt(format!("member ordinal {ordinal} out of range"))
                })?);
            }
            // The member bitmap holds current members only.
            recipients &= targets;
        }
        if let Some(ordinal) = sender_ordinal {
            recipients.remove(ordinal);
        }
        recipients.optimize();
        tx.execute(
            "INSERT INTO group_receipts (msg_id, group_id, recipients, readers) \
             VALUES ($1, $2, $3, $4)",
            &[
                &m.msg_id,
                &group_id,
                &encode_bitmap(&recipients)?,
                &encode_bitmap(&RoaringBitmap::new())?,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Stores an `onlineUserOnly` message that asks for receipts outside its conversation's
/// sequence, with a group message's recipients. The group row is locked, as by a send, so the
/// member bitmap read is the membership at this send.
async fn append_online_message(
    tx: &impl CachedQueries,
    m: &NewMessage,
    as_admin: bool,
) -> StoreResult<()> {
    let members = match (&m.group_id, &m.receiver) {
        (Some(group_id), _) => {
            let (members, _, _) = lock_group(tx, group_id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
            let sender_ordinal = sender_ordinal(tx, group_id, &m.sender, as_admin).await?;
            Some((group_id, members, sender_ordinal))
        }
        (None, Some(_)) => None,
        (None, None) => return Err(StoreError::NotFound("message receiver".into())),
    };
    insert_message(tx, &m.conv_key().encode(), None, m).await?;
    if let Some((group_id, members, sender_ordinal)) = members {
        insert_recipients(tx, m, group_id, members, sender_ordinal).await?;
    }
    Ok(())
}

async fn append_c2c_message(
    tx: &impl CachedQueries,
    m: &NewMessage,
    receiver: &str,
) -> StoreResult<i64> {
    let conv = ConvKey::c2c(&m.sender, receiver).encode();
    // The counter row's lock orders concurrent senders; a rolled-back send returns its number.
    let seq: i64 = tx
        .query_one(
            "INSERT INTO conversation_seqs (conv, last_seq) VALUES ($1, 1) \
             ON CONFLICT (conv) DO UPDATE SET last_seq = conversation_seqs.last_seq + 1 \
             RETURNING last_seq",
            &[&conv],
        )
        .await?
        .try_get(0)?;
    insert_message(tx, &conv, Some(seq), m).await?;
    let activity: i64 = tx
        .query_one("SELECT nextval('conversation_activity')", &[])
        .await?
        .try_get(0)?;
    let upsert = "INSERT INTO c2c_conversations (owner, peer, last_seq, last_time, activity) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, peer) DO UPDATE SET \
         last_seq = GREATEST(c2c_conversations.last_seq, excluded.last_seq), \
         last_time = GREATEST(c2c_conversations.last_time, excluded.last_time), \
         activity = GREATEST(c2c_conversations.activity, excluded.activity)";
    tx.execute(
        upsert,
        &[&m.sender, &receiver, &seq, &m.timestamp, &activity],
    )
    .await?;
    if receiver != m.sender {
        tx.execute(
            upsert,
            &[&receiver, &m.sender, &seq, &m.timestamp, &activity],
        )
        .await?;
    }
    Ok(seq)
}

/// Keeps the records in the order of `keys`, leaving out keys without a record.
fn in_order_of<K, T>(keys: &[K], records: Vec<T>, key_of: impl Fn(&T) -> K) -> Vec<T>
where
    K: std::hash::Hash + Eq + Clone,
{
    let mut by_key: HashMap<K, T> = records.into_iter().map(|r| (key_of(&r), r)).collect();
    keys.iter().filter_map(|key| by_key.remove(key)).collect()
}

/// An unsigned sequence from a request, as a BIGINT bound: one beyond BIGINT names no message.
fn seq_bound(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl PgStore {
    async fn append(&self, message: NewMessage, as_admin: bool) -> StoreResult<MessageRecord> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let seq = match (&message.group_id, &message.receiver) {
            (Some(group_id), _) => append_group_message(&tx, &message, group_id, as_admin).await?,
            (None, Some(receiver)) => append_c2c_message(&tx, &message, receiver).await?,
            (None, None) => return Err(StoreError::NotFound("message receiver".into())),
        };
        tx.commit().await?;
        Ok(MessageRecord {
            message,
            seq: seq as u64,
            receipt_at: None,
            revoked: None,
        })
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ensure_user(
        &self,
        user_id: &str,
        profile: Option<UserCard>,
        now: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let created = tx
            .execute(
                "INSERT INTO users (user_id, created_at) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO NOTHING",
                &[&user_id, &now],
            )
            .await?
            == 1;
        if let Some(profile) = profile {
            tx.execute(
                "UPDATE users SET nick = $2, face_url = $3 WHERE user_id = $1",
                &[&user_id, &profile.nick, &profile.face_url],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn update_profile(
        &self,
        user_id: &str,
        update: ProfileUpdate,
        max_custom: usize,
    ) -> StoreResult<ProfileUpdated> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The row lock keeps another node's update of other custom fields from being lost.
        let Some(row) = tx
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1 FOR UPDATE"),
                &[&user_id],
            )
            .await?
        else {
            return Ok(ProfileUpdated::NoSuchUser);
        };
        let updated = apply(rows::user(&row)?.profile, update, max_custom);
        if let ProfileUpdated::Updated(profile) = &updated {
            tx.execute(
                "UPDATE users SET nick = $2, face_url = $3, self_signature = $4, gender = $5, \
                 custom_info = $6 WHERE user_id = $1",
                &[
                    &user_id,
                    &profile.nick,
                    &profile.face_url,
                    &profile.self_signature,
                    &i64::from(u32::from(profile.gender)),
                    &encode_custom(&profile.custom),
                ],
            )
            .await?;
            tx.commit().await?;
        }
        Ok(updated)
    }

    async fn get_users(&self, user_ids: &[String]) -> StoreResult<Vec<UserRecord>> {
        let client = self.client().await?;
        let found = client
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = ANY($1)"),
                &[&user_ids],
            )
            .await?;
        rows::all(&found, rows::user)
    }

    async fn delete_users(&self, user_ids: &[String]) -> StoreResult<Vec<bool>> {
        let client = self.client().await?;
        let deleted: HashSet<String> = client
            .query(
                "DELETE FROM users WHERE user_id = ANY($1) RETURNING user_id",
                &[&user_ids],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        // A user named twice existed only for the first mention, as deleting one by one says.
        let mut seen = HashSet::new();
        Ok(user_ids
            .iter()
            .map(|user| deleted.contains(user) && seen.insert(user))
            .collect())
    }

    async fn list_groups(
        &self,
        after: &str,
        limit: u32,
        group_type: Option<GroupType>,
    ) -> StoreResult<(Vec<GroupRecord>, u64)> {
        let client = self.client().await?;
        let type_name = group_type.map(GroupType::as_str);
        let found = client
            .query(
                &format!(
                    "SELECT {GROUP_COLUMNS} FROM groups WHERE group_id > $1 \
                     AND ($2::text IS NULL OR group_type = $2) ORDER BY group_id LIMIT $3"
                ),
                &[&after, &type_name, &i64::from(limit)],
            )
            .await?;
        let total: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM groups WHERE ($1::text IS NULL OR group_type = $1)",
                &[&type_name],
            )
            .await?
            .try_get(0)?;
        Ok((rows::all(&found, rows::group)?, total as u64))
    }

    async fn create_group(
        &self,
        group: NewGroup,
        members: Vec<NewMember>,
    ) -> StoreResult<GroupRecord> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let inserted = tx
            .execute(
                "INSERT INTO groups (group_id, group_type, name, owner, created_at, member_bitmap, \
                 activity) VALUES ($1, $2, $3, $4, $5, $6, nextval('conversation_activity')) \
                 ON CONFLICT (group_id) DO NOTHING",
                &[
                    &group.group_id,
                    &group.group_type.as_str(),
                    &group.name,
                    &group.owner,
                    &group.created_at,
                    &encode_bitmap(&RoaringBitmap::new())?,
                ],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!("group {}", group.group_id)));
        }
        insert_members(&tx, &group.group_id, &members).await?;
        let record = query_group(&tx, &group.group_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group {}", group.group_id)))?;
        tx.commit().await?;
        Ok(record)
    }

    async fn get_group(&self, group_id: &str) -> StoreResult<Option<GroupRecord>> {
        query_group(&self.client().await?, group_id).await
    }

    async fn delete_group(&self, group_id: &str) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Locked first, so a send or receipt batch in flight finishes before, or finds nothing.
        lock_group(&tx, group_id).await?;
        let conv = ConvKey::Group(group_id.into()).encode();
        tx.execute(
            "DELETE FROM group_receipts WHERE group_id = $1",
            &[&group_id],
        )
        .await?;
        tx.execute("DELETE FROM messages WHERE conv = $1", &[&conv])
            .await?;
        tx.execute("DELETE FROM online_messages WHERE conv = $1", &[&conv])
            .await?;
        tx.execute("DELETE FROM members WHERE group_id = $1", &[&group_id])
            .await?;
        tx.execute("DELETE FROM groups WHERE group_id = $1", &[&group_id])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_members(&self, group_id: &str, members: Vec<NewMember>) -> StoreResult<Vec<bool>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let added = insert_members(&tx, group_id, &members).await?;
        tx.commit().await?;
        Ok(added)
    }

    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> StoreResult<Vec<bool>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (mut bitmap, next_ordinal, _) = lock_group(&tx, group_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
        let mut removed_now: HashMap<String, u32> = HashMap::new();
        for row in tx
            .query(
                "UPDATE members SET active = FALSE WHERE group_id = $1 AND user_id = ANY($2) \
                 AND active RETURNING user_id, ordinal",
                &[&group_id, &user_ids],
            )
            .await?
        {
            let ordinal: i64 = row.try_get(1)?;
            removed_now.insert(row.try_get(0)?, ordinal as u32);
        }
        let removed = user_ids
            .iter()
            .map(|user| match removed_now.remove(user) {
                Some(ordinal) => {
                    bitmap.remove(ordinal);
                    true
                }
                None => false,
            })
            .collect();
        save_member_bitmap(&tx, group_id, &mut bitmap, next_ordinal).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn set_name_card(
        &self,
        group_id: &str,
        user_id: &str,
        name_card: &str,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let updated = client
            .execute(
                "UPDATE members SET name_card = $3 WHERE group_id = $1 AND user_id = $2 AND active",
                &[&group_id, &user_id, &name_card],
            )
            .await?;
        Ok(updated == 1)
    }

    async fn get_member(&self, group_id: &str, user_id: &str) -> StoreResult<Option<MemberRecord>> {
        let member = query_member(&self.client().await?, group_id, user_id).await?;
        Ok(member.filter(|member| member.active))
    }

    async fn list_members(
        &self,
        group_id: &str,
        from_ordinal: u32,
        limit: u32,
        role: Option<GroupRole>,
    ) -> StoreResult<Vec<MemberRecord>> {
        let role = role.map(|role| i64::from(u32::from(role)));
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM members m \
                     LEFT JOIN users u ON u.user_id = m.user_id \
                     WHERE m.group_id = $1 AND m.ordinal >= $2 AND m.active \
                     AND ($3::bigint IS NULL OR m.role = $3) ORDER BY m.ordinal LIMIT $4"
                ),
                &[
                    &group_id,
                    &i64::from(from_ordinal),
                    &role,
                    &i64::from(limit),
                ],
            )
            .await?;
        rows::all(&found, rows::member)
    }

    async fn members_by_ordinal(
        &self,
        group_id: &str,
        ordinals: &[u32],
    ) -> StoreResult<Vec<MemberRecord>> {
        let wanted: Vec<i64> = ordinals.iter().map(|o| i64::from(*o)).collect();
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM members m \
                     LEFT JOIN users u ON u.user_id = m.user_id \
                     WHERE m.group_id = $1 AND m.ordinal = ANY($2)"
                ),
                &[&group_id, &wanted],
            )
            .await?;
        let members = rows::all(&found, rows::member)?;
        Ok(in_order_of(ordinals, members, |m| m.ordinal))
    }

    async fn member_user_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        let found = self
            .client()
            .await?
            .query(
                "SELECT user_id FROM members WHERE group_id = $1 AND active ORDER BY ordinal",
                &[&group_id],
            )
            .await?;
        Ok(found
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn joined_groups(&self, user_id: &str) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
        let group_columns = GROUP_COLUMNS
            .split(", ")
            .map(|c| format!("g.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {group_columns}, {MEMBER_COLUMNS} FROM members m \
                     JOIN groups g ON g.group_id = m.group_id \
                     LEFT JOIN users u ON u.user_id = m.user_id \
                     WHERE m.user_id = $1 AND m.active ORDER BY g.group_id"
                ),
                &[&user_id],
            )
            .await?;
        found
            .iter()
            .map(|row| {
                // The group's columns come first.
                Ok((
                    rows::group(row)?,
                    rows::member_from(row, rows::GROUP_COLUMN_COUNT)?,
                ))
            })
            .collect()
    }

    async fn joined_groups_page(
        &self,
        user_id: &str,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
        self.joined_page(user_id, after, limit).await
    }

    async fn group_counts(&self, user_id: &str) -> StoreResult<GroupCounts> {
        self.counts(user_id).await
    }

    async fn conversation_page_parts(
        &self,
        owner: &str,
        before: Option<u64>,
        limit: u32,
        limits: PartsLimits,
    ) -> StoreResult<Vec<ConversationParts>> {
        self.page_parts(owner, before, limit, limits).await
    }

    async fn total_unread(&self, owner: &str) -> StoreResult<u64> {
        self.unread_total(owner).await
    }

    async fn total_unread_of(&self, owners: &[String]) -> StoreResult<Vec<u64>> {
        self.unread_totals(owners).await
    }

    async fn members_unread(
        &self,
        group_id: &str,
        users: &[String],
    ) -> StoreResult<Vec<(MemberRecord, u64)>> {
        let conv = ConvKey::Group(group_id.to_owned()).encode();
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {MEMBER_COLUMNS}, \
                     (SELECT COUNT(*) FROM messages msg WHERE msg.conv = $3 \
                      AND msg.seq > m.read_seq AND msg.sender <> m.user_id \
                      AND NOT msg.excluded_unread) AS unread \
                     FROM members m LEFT JOIN users u ON u.user_id = m.user_id \
                     WHERE m.group_id = $1 AND m.user_id = ANY($2) AND m.active \
                     ORDER BY m.ordinal"
                ),
                &[&group_id, &users, &conv],
            )
            .await?;
        found
            .iter()
            .map(|row| {
                let unread: i64 = row.try_get("unread")?;
                Ok((rows::member(row)?, unread as u64))
            })
            .collect()
    }

    async fn mark_all_read(
        &self,
        owner: &str,
        scope: ReadScope,
        now: i64,
    ) -> StoreResult<Vec<ReadMoved>> {
        self.all_read(owner, scope, now).await
    }

    async fn set_group_read_seq(&self, group_id: &str, user_id: &str, seq: u64) -> StoreResult<()> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE members SET read_seq = $3 WHERE group_id = $1 AND user_id = $2 AND active",
                &[&group_id, &user_id, &bigint(seq)?],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotMember {
                group: group_id.into(),
                user: user_id.into(),
            });
        }
        Ok(())
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<MessageRecord> {
        self.append(message, false).await
    }

    async fn append_admin_message(&self, message: NewMessage) -> StoreResult<MessageRecord> {
        self.append(message, true).await
    }

    async fn append_online_message(
        &self,
        message: NewMessage,
        as_admin: bool,
    ) -> StoreResult<MessageRecord> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        append_online_message(&tx, &message, as_admin).await?;
        tx.commit().await?;
        Ok(MessageRecord {
            message,
            seq: 0,
            receipt_at: None,
            revoked: None,
        })
    }

    async fn get_messages(&self, msg_ids: &[String]) -> StoreResult<Vec<MessageRecord>> {
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE msg_id = ANY($1) UNION ALL \
                     SELECT {ONLINE_MESSAGE_COLUMNS} FROM online_messages WHERE msg_id = ANY($1)"
                ),
                &[&msg_ids],
            )
            .await?;
        let messages = rows::all(&found, rows::message)?;
        Ok(in_order_of(msg_ids, messages, |m| m.message.msg_id.clone()))
    }

    async fn messages_by_seq(
        &self,
        conversation: &ConvKey,
        seqs: &[u64],
    ) -> StoreResult<Vec<MessageRecord>> {
        let wanted: Vec<i64> = seqs.iter().filter_map(|s| i64::try_from(*s).ok()).collect();
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = $1 AND seq = ANY($2)"
                ),
                &[&conversation.encode(), &wanted],
            )
            .await?;
        let messages = rows::all(&found, rows::message)?;
        Ok(in_order_of(seqs, messages, |m| m.seq))
    }

    async fn history(
        &self,
        conversation: &ConvKey,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        let before = before_seq.map_or(i64::MAX, seq_bound);
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = $1 AND seq < $2 \
                     ORDER BY seq DESC LIMIT $3"
                ),
                &[&conversation.encode(), &before, &i64::from(limit)],
            )
            .await?;
        rows::all(&found, rows::message)
    }

    async fn visible_history(
        &self,
        conversation: &ConvKey,
        viewer: &str,
        before_seq: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        let before = before_seq.map_or(i64::MAX, seq_bound);
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conv = $1 AND seq < $2 \
                     AND (targets IS NULL OR sender = $4 \
                     OR strpos(targets, chr(10) || $4 || chr(10)) > 0) \
                     ORDER BY seq DESC LIMIT $3"
                ),
                &[&conversation.encode(), &before, &i64::from(limit), &viewer],
            )
            .await?;
        rows::all(&found, rows::message)
    }

    async fn targeted_before(
        &self,
        group_id: &str,
        before_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<TargetedSeq>> {
        let found = self
            .client()
            .await?
            .query(
                "SELECT seq, sender, targets FROM messages WHERE conv = $1 AND seq < $2 \
                 AND targets IS NOT NULL AND seq > COALESCE((SELECT seq FROM messages \
                 WHERE conv = $1 AND seq < $2 AND targets IS NULL ORDER BY seq DESC LIMIT 1), 0) \
                 ORDER BY seq DESC LIMIT $3",
                &[
                    &ConvKey::Group(group_id.to_owned()).encode(),
                    &seq_bound(before_seq),
                    &i64::from(limit),
                ],
            )
            .await?;
        let mut runs = found
            .iter()
            .map(|row| {
                let seq: i64 = row.try_get(0)?;
                Ok(TargetedSeq {
                    seq: u64::try_from(seq)
                        .map_err(|_| StoreError::Corrupt(format!("sequence {seq}")))?,
                    sender: row.try_get(1)?,
                    targets: decode_ids(row.try_get::<_, Option<String>>(2)?.as_deref()),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        runs.reverse();
        Ok(runs)
    }

    async fn mentions_after_of(
        &self,
        group_id: &str,
        viewers: &[(String, u64)],
        limit: u32,
    ) -> StoreResult<Vec<Vec<Mention>>> {
        let names: Vec<&str> = viewers.iter().map(|(viewer, _)| viewer.as_str()).collect();
        let after: Vec<i64> = viewers.iter().map(|(_, seq)| seq_bound(*seq)).collect();
        let found = self
            .client()
            .await?
            .query(
                "SELECT v.n, x.seq, x.me, x.everyone \
                 FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS v(viewer, after_seq, n) \
                 CROSS JOIN LATERAL ( \
                  SELECT seq, strpos(at_users, chr(10) || v.viewer || chr(10)) > 0 AS me, \
                  strpos(at_users, chr(10) || $4 || chr(10)) > 0 AS everyone FROM messages \
                  WHERE conv = $1 AND seq > v.after_seq AND at_users IS NOT NULL \
                  AND sender <> v.viewer \
                  AND (strpos(at_users, chr(10) || v.viewer || chr(10)) > 0 \
                  OR strpos(at_users, chr(10) || $4 || chr(10)) > 0) ORDER BY seq LIMIT $5) x \
                 ORDER BY v.n, x.seq",
                &[
                    &ConvKey::Group(group_id.to_owned()).encode(),
                    &names,
                    &after,
                    &GROUP_AT_ALL,
                    &i64::from(limit),
                ],
            )
            .await?;
        let mut lists: Vec<Vec<Mention>> = vec![Vec::new(); viewers.len()];
        for row in &found {
            let n: i64 = row.try_get(0)?;
            let seq: i64 = row.try_get(1)?;
            let list = usize::try_from(n - 1)
                .ok()
                .and_then(|i| lists.get_mut(i))
                .ok_or_else(|| StoreError::Corrupt(format!("viewer number {n}")))?;
            list.push(Mention {
                seq: u64::try_from(seq)
                    .map_err(|_| StoreError::Corrupt(format!("sequence {seq}")))?,
                me: row.try_get(2)?,
                all: row.try_get(3)?,
            });
        }
        Ok(lists)
    }

    async fn seq_at_time(&self, conversation: &ConvKey, time: i64) -> StoreResult<u64> {
        let seq: Option<i64> = self
            .client()
            .await?
            .query_one(
                "SELECT MAX(seq) FROM messages WHERE conv = $1 AND timestamp <= $2",
                &[&conversation.encode(), &time],
            )
            .await?
            .try_get(0)?;
        Ok(seq.unwrap_or(0) as u64)
    }

    async fn count_unread(
        &self,
        conversation: &ConvKey,
        after_seq: u64,
        viewer: &str,
    ) -> StoreResult<u64> {
        let count: i64 = self
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FROM messages WHERE conv = $1 AND seq > $2 AND sender <> $3 \
                 AND NOT excluded_unread",
                &[&conversation.encode(), &seq_bound(after_seq), &viewer],
            )
            .await?
            .try_get(0)?;
        Ok(count as u64)
    }

    async fn c2c_conversations(&self, owner: &str) -> StoreResult<Vec<C2cConversationRecord>> {
        let found = self
            .client()
            .await?
            .query(
                &format!("SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = $1"),
                &[&owner],
            )
            .await?;
        rows::all(&found, rows::c2c)
    }

    async fn c2c_conversation(
        &self,
        owner: &str,
        peer: &str,
    ) -> StoreResult<Option<C2cConversationRecord>> {
        self.client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = $1 AND peer = $2"
                ),
                &[&owner, &peer],
            )
            .await?
            .map(|row| rows::c2c(&row))
            .transpose()
    }

    async fn set_c2c_read(
        &self,
        owner: &str,
        peer: &str,
        seq: u64,
        time: i64,
    ) -> StoreResult<bool> {
        // The owner's privacy is read by the statement that writes, in its snapshot.
        let shown: bool = self
            .client()
            .await?
            .query_one(
                "WITH p AS (SELECT COALESCE((SELECT private_receipts FROM users \
                 WHERE user_id = $1), FALSE) AS private) \
                 INSERT INTO c2c_conversations \
                 (owner, peer, read_seq, read_time, activity, shown_read_seq, shown_read_time) \
                 SELECT $1, $2, $3::BIGINT, $4::BIGINT, nextval('conversation_activity'), \
                 CASE WHEN p.private THEN 0 ELSE $3::BIGINT END, \
                 CASE WHEN p.private THEN 0 ELSE $4::BIGINT END FROM p \
                 ON CONFLICT (owner, peer) DO UPDATE SET \
                 read_seq = excluded.read_seq, read_time = excluded.read_time, \
                 shown_read_seq = CASE WHEN (SELECT private FROM p) \
                 THEN c2c_conversations.shown_read_seq ELSE excluded.read_seq END, \
                 shown_read_time = CASE WHEN (SELECT private FROM p) \
                 THEN c2c_conversations.shown_read_time ELSE excluded.read_time END \
                 RETURNING NOT (SELECT private FROM p)",
                &[&owner, &peer, &bigint(seq)?, &time],
            )
            .await?
            .try_get(0)?;
        Ok(shown)
    }

    async fn record_c2c_receipts(
        &self,
        reader: &str,
        msg_ids: &[String],
        time: i64,
    ) -> StoreResult<C2cReceiptsRecorded> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let private: bool = tx
            .query_opt(
                "SELECT private_receipts FROM users WHERE user_id = $1",
                &[&reader],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
            .unwrap_or(false);
        if private {
            let mut newly = Vec::with_capacity(msg_ids.len());
            for msg_id in msg_ids {
                let found = tx
                    .query_opt(
                        "SELECT receipt_at IS NULL, revoked_at IS NOT NULL FROM messages \
                         WHERE msg_id = $1 UNION ALL SELECT receipt_at IS NULL, FALSE \
                         FROM online_messages WHERE msg_id = $1",
                        &[msg_id],
                    )
                    .await?;
                let (unreceipted, revoked): (bool, bool) = match found {
                    Some(row) => (row.try_get(0)?, row.try_get(1)?),
                    None => (false, false),
                };
                if revoked {
                    return Err(StoreError::Revoked {
                        msg_id: msg_id.clone(),
                    });
                }
                newly.push(unreceipted);
            }
            tx.commit().await?;
            return Ok(C2cReceiptsRecorded {
                newly,
                private: true,
            });
        }
        let mut newly = Vec::with_capacity(msg_ids.len());
        for msg_id in msg_ids {
            // Of two concurrent receipts for one message, the second waits for the first's row
            // lock, then finds `receipt_at` set and changes nothing.
            let mut changed = tx
                .execute(
                    "UPDATE messages SET receipt_at = $2 \
                     WHERE msg_id = $1 AND receipt_at IS NULL AND revoked_at IS NULL",
                    &[msg_id, &time],
                )
                .await?;
            // A message is in one of the two tables (`onlineUserOnly` ones are never
            // recalled): at most one row changes.
            changed += tx
                .execute(
                    "UPDATE online_messages SET receipt_at = $2 \
                     WHERE msg_id = $1 AND receipt_at IS NULL",
                    &[msg_id, &time],
                )
                .await?;
            let changed = changed == 1;
            // Only a message that changed nothing can be a recalled one. Dropping the
            // transaction uncommitted undoes what the call set before.
            if !changed
                && tx
                    .query_opt(
                        "SELECT 1 FROM messages WHERE msg_id = $1 AND revoked_at IS NOT NULL",
                        &[msg_id],
                    )
                    .await?
                    .is_some()
            {
                return Err(StoreError::Revoked {
                    msg_id: msg_id.clone(),
                });
            }
            newly.push(changed);
        }
        tx.commit().await?;
        Ok(C2cReceiptsRecorded {
            newly,
            private: false,
        })
    }

    async fn record_group_receipts(
        &self,
        group_id: &str,
        reader: &str,
        msg_ids: Vec<String>,
    ) -> StoreResult<Vec<GroupReceiptUpdate>> {
        self.receipts
            .record(group_id.to_owned(), reader.to_owned(), msg_ids)
            .await
    }

    async fn group_receipts(&self, msg_ids: &[String]) -> StoreResult<Vec<GroupReceiptRecord>> {
        let found = self
            .client()
            .await?
            .query(
                "SELECT msg_id, recipients, readers, revoked FROM group_receipts \
                 WHERE msg_id = ANY($1)",
                &[&msg_ids],
            )
            .await?;
        let records = found
            .iter()
            .map(|row| {
                let recipients: &[u8] = row.try_get(1)?;
                let readers: &[u8] = row.try_get(2)?;
                Ok(GroupReceiptRecord {
                    msg_id: row.try_get(0)?,
                    recipients: decode_bitmap(recipients)?,
                    readers: decode_bitmap(readers)?,
                    revoked: row.try_get(3)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(in_order_of(msg_ids, records, |r| r.msg_id.clone()))
    }

    async fn revoke_message(
        &self,
        msg_id: &str,
        revocation: Revocation,
    ) -> StoreResult<Option<(MessageRecord, bool)>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Receipt batches lock a message's receipt row and read `revoked` from it: updating that
        // row orders this recall after every batch that holds it, and every later batch (also
        // one already waiting for the lock, which then re-reads the row) sees the recall.
        tx.execute(
            "UPDATE group_receipts SET revoked = TRUE WHERE msg_id = $1",
            &[&msg_id],
        )
        .await?;
        let changed = tx
            .execute(
                "UPDATE messages SET revoked_at = $2, revoked_by = $3, revoke_reason = $4, \
                 body = '', cloud_custom_data = '' WHERE msg_id = $1 AND revoked_at IS NULL",
                &[&msg_id, &revocation.at, &revocation.by, &revocation.reason],
            )
            .await?
            == 1;
        let record = tx
            .query_opt(
                &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE msg_id = $1"),
                &[&msg_id],
            )
            .await?
            .map(|row| rows::message(&row))
            .transpose()?;
        let Some(record) = record else {
            // No such stored message (an `onlineUserOnly` one is not recalled): dropping the
            // transaction uncommitted undoes the receipt row's mark.
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some((record, changed)))
    }

    async fn revoke_user_sigs(&self, user_ids: &[String], not_before: i64) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO user_sig_revocations (user_id, not_before) \
                 SELECT DISTINCT user_id, $2::BIGINT FROM UNNEST($1::TEXT[]) AS named(user_id) \
                 ON CONFLICT (user_id) DO UPDATE \
                 SET not_before = GREATEST(user_sig_revocations.not_before, excluded.not_before)",
                &[&user_ids, &not_before],
            )
            .await?;
        Ok(())
    }

    async fn set_private_receipts(&self, user_id: &str, private: bool) -> StoreResult<bool> {
        let changed = self
            .client()
            .await?
            .execute(
                "UPDATE users SET private_receipts = $2 WHERE user_id = $1",
                &[&user_id, &private],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn private_receipts(&self, user_id: &str) -> StoreResult<Option<bool>> {
        Ok(self
            .client()
            .await?
            .query_opt(
                "SELECT private_receipts FROM users WHERE user_id = $1",
                &[&user_id],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?)
    }

    async fn user_sigs_not_before(&self, user_id: &str) -> StoreResult<i64> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT not_before FROM user_sig_revocations WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        Ok(match row {
            Some(row) => row.try_get(0)?,
            None => 0,
        })
    }

    async fn subscribe_user_status(
        &self,
        subscriber: &str,
        targets: &[String],
        rank: i64,
        cap: usize,
    ) -> StoreResult<()> {
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // A target named twice takes its last place, as one subscription after the other would.
        tx.execute(
            "INSERT INTO status_subscriptions (subscriber, target, rank) \
             SELECT $1, target, $3::BIGINT + MAX(pos) - 1 \
             FROM UNNEST($2::TEXT[]) WITH ORDINALITY AS named(target, pos) GROUP BY target \
             ON CONFLICT (subscriber, target) DO UPDATE SET rank = excluded.rank",
            &[&subscriber, &targets, &rank],
        )
        .await?;
        tx.execute(
            "DELETE FROM status_subscriptions WHERE subscriber = $1 AND target NOT IN \
             (SELECT target FROM status_subscriptions WHERE subscriber = $1 \
              ORDER BY rank DESC, target DESC LIMIT $2)",
            &[&subscriber, &cap],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unsubscribe_user_status(
        &self,
        subscriber: &str,
        targets: &[String],
    ) -> StoreResult<()> {
        let client = self.client().await?;
        if targets.is_empty() {
            client
                .execute(
                    "DELETE FROM status_subscriptions WHERE subscriber = $1",
                    &[&subscriber],
                )
                .await?;
        } else {
            client
                .execute(
                    "DELETE FROM status_subscriptions \
                     WHERE subscriber = $1 AND target = ANY($2::TEXT[])",
                    &[&subscriber, &targets],
                )
                .await?;
        }
        Ok(())
    }

    async fn status_subscribers(&self, target: &str) -> StoreResult<Vec<String>> {
        self.client()
            .await?
            .query(
                "SELECT subscriber FROM status_subscriptions WHERE target = $1 \
                 ORDER BY subscriber",
                &[&target],
            )
            .await?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
    }

    async fn status_subscriptions(&self, subscriber: &str) -> StoreResult<Vec<String>> {
        self.client()
            .await?
            .query(
                "SELECT target FROM status_subscriptions WHERE subscriber = $1 \
                 ORDER BY rank, target",
                &[&subscriber],
            )
            .await?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
    }

    async fn set_custom_status(&self, user_id: &str, custom_status: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let changed = if custom_status.is_empty() {
            client
                .execute(
                    "DELETE FROM custom_statuses WHERE user_id = $1",
                    &[&user_id],
                )
                .await?
        } else {
            client
                .execute(
                    "INSERT INTO custom_statuses (user_id, custom_status) VALUES ($1, $2) \
                     ON CONFLICT (user_id) DO UPDATE SET custom_status = excluded.custom_status \
                     WHERE custom_statuses.custom_status <> excluded.custom_status",
                    &[&user_id, &custom_status],
                )
                .await?
        };
        Ok(changed > 0)
    }

    async fn custom_statuses(&self, user_ids: &[String]) -> StoreResult<Vec<String>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT user_id, custom_status FROM custom_statuses \
                 WHERE user_id = ANY($1::TEXT[])",
                &[&user_ids],
            )
            .await?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in &rows {
            found.insert(row.try_get::<_, String>(0)?, row.try_get::<_, String>(1)?);
        }
        Ok(user_ids
            .iter()
            .map(|user_id| found.get(user_id).cloned().unwrap_or_default())
            .collect())
    }

    async fn settings(&self) -> StoreResult<Vec<(String, String)>> {
        let client = self.client().await?;
        client
            .query("SELECT name, value FROM settings ORDER BY name", &[])
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    async fn put_settings(&self, entries: &[(String, String)]) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for (name, value) in entries {
            tx.execute(
                "INSERT INTO settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[name, value],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn check_health(&self, now: i64) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO health (id, checked_at) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                &[&now],
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl StorageStats for PgStore {
    async fn read_state_bytes(&self) -> StoreResult<u64> {
        let bytes: i64 = self
            .client()
            .await?
            .query_one(
                "SELECT COALESCE(SUM(octet_length(recipients) + octet_length(readers) \
                 + octet_length(msg_id)), 0)::bigint FROM group_receipts",
                &[],
            )
            .await?
            .try_get(0)?;
        Ok(bytes as u64)
    }
}
