//! SQLite queries of groups and their members: group rows, member rows, and each group's
//! bitmap of current members' ordinals.

use roaring::RoaringBitmap;
use rusqlite::{Connection, OptionalExtension, params};

use super::conversations::{GROUP_COLUMN_COUNT, next_activity, prefixed};
use super::layout::delete_conversation_receipts;
use super::receipt_cache::ReceiptCache;
use super::rows::{
    GROUP_COLUMNS, MEMBER_COLUMNS, group_from_row, member_from_row, member_from_row_offset,
};
use crate::codec::{decode_bitmap, encode_bitmap};
use crate::{
    ConvKey, GroupCounts, GroupRecord, GroupRole, GroupType, MemberRecord, NewGroup, NewMember,
    StoreError, StoreResult,
};

/// Groups with ID > `after` (of one type when given), at most `limit`; and how many there are.
pub(super) fn list(
    conn: &Connection,
    after: &str,
    limit: u32,
    group_type: Option<GroupType>,
) -> StoreResult<(Vec<GroupRecord>, u64)> {
    let group_type = group_type.map(GroupType::as_str);
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
}

/// Creates a group with its initial members; [`StoreError::Conflict`] when the ID is taken.
pub(super) fn create(
    conn: &Connection,
    group: &NewGroup,
    members: &[NewMember],
) -> StoreResult<GroupRecord> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO groups (group_id, group_type, name, owner, created_at, \
         member_bitmap, activity) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            group.group_id,
            group.group_type.as_str(),
            group.name,
            group.owner,
            group.created_at,
            encode_bitmap(&RoaringBitmap::new())?,
            next_activity(conn)?
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!("group {}", group.group_id)));
    }
    add_members(conn, &group.group_id, members)?;
    get(conn, &group.group_id)?
        .ok_or_else(|| StoreError::NotFound(format!("group {}", group.group_id)))
}

/// The group, if it exists.
pub(super) fn get(conn: &Connection, group_id: &str) -> StoreResult<Option<GroupRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE group_id = ?1"
        ))?
        .query_row([group_id], group_from_row)
        .optional()?)
}

/// Deletes a group with its members, messages and receipt state, and drops the writer's cached
/// receipt states of its messages.
pub(super) fn delete(
    conn: &Connection,
    receipts: &mut ReceiptCache,
    group_id: &str,
) -> StoreResult<()> {
    receipts.forget_group(group_id);
    let conv = ConvKey::Group(group_id.to_owned()).encode();
    delete_conversation_receipts(conn, &conv)?;
    conn.execute("DELETE FROM messages WHERE conv = ?1", [&conv])?;
    conn.execute("DELETE FROM online_messages WHERE conv = ?1", [&conv])?;
    conn.execute("DELETE FROM members WHERE group_id = ?1", [group_id])?;
    conn.execute("DELETE FROM groups WHERE group_id = ?1", [group_id])?;
    Ok(())
}

/// The bitmap of the group's current members' ordinals (None: no such group).
///
/// A write reads it, changes it and writes it back ([`add_members`], [`remove_members`]). That
/// is correct only because this engine's one writer thread runs every write, one job after
/// another: no other write can change the bitmap in between and have its change overwritten.
pub(super) fn member_bitmap(
    conn: &Connection,
    group_id: &str,
) -> StoreResult<Option<RoaringBitmap>> {
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT member_bitmap FROM groups WHERE group_id = ?1",
            [group_id],
            |row| row.get(0),
        )
        .optional()?;
    blob.map(|bytes| decode_bitmap(&bytes)).transpose()
}

/// Writes back a bitmap read by [`member_bitmap`] in the same job, with the member count.
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

/// Adds members (a former member gets back its ordinal); for each, whether it was added.
pub(super) fn add_members(
    conn: &Connection,
    group_id: &str,
    members: &[NewMember],
) -> StoreResult<Vec<bool>> {
    let mut bitmap = member_bitmap(conn, group_id)?
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

/// Sets a current member's name card; whether the user is a current member.
pub(super) fn set_name_card(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
    name_card: &str,
) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE members SET name_card = ?3 WHERE group_id = ?1 AND user_id = ?2 AND active = 1",
        )?
        .execute(params![group_id, user_id, name_card])?
        == 1)
}

/// Removes current members (their rows stay, with their ordinals); for each, whether it was one.
pub(super) fn remove_members(
    conn: &Connection,
    group_id: &str,
    user_ids: &[String],
) -> StoreResult<Vec<bool>> {
    let mut bitmap = member_bitmap(conn, group_id)?
        .ok_or_else(|| StoreError::NotFound(format!("group {group_id}")))?;
    let mut removed = Vec::with_capacity(user_ids.len());
    for user_id in user_ids {
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
    save_member_bitmap(conn, group_id, &mut bitmap)?;
    Ok(removed)
}

/// The membership of a user in a group, current or former.
pub(super) fn member(
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

/// The membership of a user in a group, when current.
pub(super) fn current_member(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
) -> StoreResult<Option<MemberRecord>> {
    Ok(member(conn, group_id, user_id)?.filter(|member| member.active))
}

/// The ordinal of a current member; [`StoreError::NotMember`], or [`StoreError::NotFound`] when
/// the group does not exist.
pub(super) fn active_member_ordinal(
    conn: &Connection,
    group_id: &str,
    user_id: &str,
) -> StoreResult<u32> {
    let ordinal: Option<u32> = conn
        .prepare_cached(
            "SELECT ordinal FROM members WHERE group_id = ?1 AND user_id = ?2 AND active = 1",
        )?
        .query_row(params![group_id, user_id], |row| row.get(0))
        .optional()?;
    match ordinal {
        Some(ordinal) => Ok(ordinal),
        None if get(conn, group_id)?.is_none() => {
            Err(StoreError::NotFound(format!("group {group_id}")))
        }
        None => Err(StoreError::NotMember {
            group: group_id.into(),
            user: user_id.into(),
        }),
    }
}

/// Current members with ordinal ≥ `from_ordinal` (of one role when given), in ordinal order.
pub(super) fn list_members(
    conn: &Connection,
    group_id: &str,
    from_ordinal: u32,
    limit: u32,
    role: Option<GroupRole>,
) -> StoreResult<Vec<MemberRecord>> {
    let role = role.map(u32::from);
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
}

/// Members, current or former, by ordinal, in the order asked.
pub(super) fn members_by_ordinal(
    conn: &Connection,
    group_id: &str,
    ordinals: &[u32],
) -> StoreResult<Vec<MemberRecord>> {
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
}

/// User IDs of all current members, in ordinal order.
pub(super) fn member_user_ids(conn: &Connection, group_id: &str) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id FROM members WHERE group_id = ?1 AND active = 1 ORDER BY ordinal",
    )?;
    let rows = stmt.query_map([group_id], |row| row.get(0))?;
    Ok(rows.collect::<Result<Vec<String>, _>>()?)
}

/// The groups a user currently belongs to, with the membership.
pub(super) fn joined(
    conn: &Connection,
    user_id: &str,
) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
    let mut stmt =
        conn.prepare_cached("SELECT group_id FROM members WHERE user_id = ?1 AND active = 1")?;
    let group_ids = stmt
        .query_map([user_id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let mut joined = Vec::with_capacity(group_ids.len());
    for group_id in group_ids {
        if let (Some(group), Some(member)) =
            (get(conn, &group_id)?, member(conn, &group_id, user_id)?)
        {
            joined.push((group, member));
        }
    }
    Ok(joined)
}

/// The groups a user currently belongs to with ID > `after`, in ID order, at most `limit`.
pub(super) fn joined_page(
    conn: &Connection,
    user_id: &str,
    after: &str,
    limit: u32,
) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
    let group_columns = prefixed("g", GROUP_COLUMNS);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {group_columns}, {MEMBER_COLUMNS} FROM members m \
         JOIN groups g ON g.group_id = m.group_id LEFT JOIN users u ON u.user_id = m.user_id \
         WHERE m.user_id = ?1 AND m.active = 1 AND m.group_id > ?2 \
         ORDER BY m.group_id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![user_id, after, limit], |row| {
        Ok((
            group_from_row(row)?,
            member_from_row_offset(row, GROUP_COLUMN_COUNT)?,
        ))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// How many existing groups the user owns and belongs to.
pub(super) fn counts(conn: &Connection, user_id: &str) -> StoreResult<GroupCounts> {
    let owned = conn
        .prepare_cached("SELECT COUNT(*) FROM groups WHERE owner = ?1")?
        .query_row([user_id], |row| row.get(0))?;
    let joined = conn
        .prepare_cached("SELECT COUNT(*) FROM members WHERE user_id = ?1 AND active = 1")?
        .query_row([user_id], |row| row.get(0))?;
    Ok(GroupCounts { owned, joined })
}
