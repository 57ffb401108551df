//! The column lists the SQLite queries select, and the mapping of their rows to records.

use rusqlite::Row;

use crate::codec::decode_ids;

use crate::{
    C2cConversationRecord, GroupRecord, GroupRole, GroupType, MemberRecord, MessageRecord,
    NewMessage, Revocation, UserCard, UserProfile, UserRecord, profile,
};

pub(super) use crate::codec::{
    C2C_COLUMNS, GROUP_COLUMNS, MEMBER_COLUMNS, MESSAGE_COLUMNS, USER_COLUMNS,
};
/// [`MESSAGE_COLUMNS`] of the `online_messages` table, whose messages have no sequence (0) and
/// are never recalled.
pub(super) const ONLINE_MESSAGE_COLUMNS: &str = "msg_id, sender, receiver, group_id, timestamp, \
     random, need_receipt, excluded_unread, elem_type, body, cloud_custom_data, 0, receipt_at, \
     NULL, NULL, NULL, targets, at_users, sender_nick, sender_face_url";

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

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        user_id: row.get(0)?,
        profile: UserProfile {
            nick: row.get(1)?,
            face_url: row.get(2)?,
            self_signature: row.get(4)?,
            gender: profile::decode_gender(row.get(5)?)
                .map_err(|e| unreadable(5, e.to_string()))?,
            custom: profile::decode_custom(&row.get::<_, String>(6)?)
                .map_err(|e| unreadable(6, e.to_string()))?,
        },
        created_at: row.get(3)?,
    })
}

pub(super) fn group_from_row(row: &Row<'_>) -> rusqlite::Result<GroupRecord> {
    Ok(GroupRecord {
        group_id: row.get(0)?,
        group_type: group_type_at(row, 1)?,
        name: row.get(2)?,
        owner: row.get(3)?,
        created_at: row.get(4)?,
        last_seq: row.get(5)?,
        member_count: row.get(6)?,
        activity: row.get(7)?,
    })
}

pub(super) fn member_from_row(row: &Row<'_>) -> rusqlite::Result<MemberRecord> {
    member_from_row_offset(row, 0)
}

/// A member whose [`MEMBER_COLUMNS`] start at column `first`.
pub(super) fn member_from_row_offset(
    row: &Row<'_>,
    first: usize,
) -> rusqlite::Result<MemberRecord> {
    Ok(MemberRecord {
        group_id: row.get(first)?,
        user_id: row.get(first + 1)?,
        ordinal: row.get(first + 2)?,
        role: role_at(row, first + 3)?,
        joined_at: row.get(first + 4)?,
        read_seq: row.get(first + 5)?,
        active: row.get(first + 6)?,
        profile: UserCard {
            nick: row.get(first + 7)?,
            face_url: row.get(first + 8)?,
        },
        name_card: row.get(first + 9)?,
    })
}

pub(super) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<MessageRecord> {
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
            targets: decode_ids(row.get::<_, Option<String>>(16)?.as_deref()),
            at_users: decode_ids(row.get::<_, Option<String>>(17)?.as_deref()),
            sender_card: UserCard {
                nick: row.get(18)?,
                face_url: row.get(19)?,
            },
        },
        seq: row.get(11)?,
        receipt_at: row.get(12)?,
        revoked: match row.get::<_, Option<i64>>(13)? {
            None => None,
            Some(at) => Some(Revocation {
                at,
                by: row.get::<_, Option<String>>(14)?.unwrap_or_default(),
                reason: row.get::<_, Option<String>>(15)?.unwrap_or_default(),
            }),
        },
    })
}

pub(super) fn c2c_from_row(row: &Row<'_>) -> rusqlite::Result<C2cConversationRecord> {
    Ok(C2cConversationRecord {
        owner: row.get(0)?,
        peer: row.get(1)?,
        last_seq: row.get(2)?,
        last_time: row.get(3)?,
        read_seq: row.get(4)?,
        read_time: row.get(5)?,
        activity: row.get(6)?,
        shown_read_seq: row.get(7)?,
        shown_read_time: row.get(8)?,
    })
}
