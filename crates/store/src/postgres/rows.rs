//! Column lists and row mapping of the PostgreSQL engine (numbers are stored as BIGINT).

use tokio_postgres::Row;

use crate::codec::decode_ids;

use crate::{
    C2cConversationRecord, GroupRecord, GroupRole, GroupType, MemberRecord, MessageRecord,
    NewMessage, Revocation, StoreError, StoreResult, UserCard, UserProfile, UserRecord, profile,
};

pub(super) use crate::codec::{
    C2C_COLUMNS, GROUP_COLUMNS, MEMBER_COLUMNS, MESSAGE_COLUMNS, USER_COLUMNS,
};
/// [`MESSAGE_COLUMNS`] of the `online_messages` table, whose messages have no sequence (0) and
/// are never recalled.
pub(super) const ONLINE_MESSAGE_COLUMNS: &str = "msg_id, sender, receiver, group_id, timestamp, \
     random, need_receipt, excluded_unread, elem_type, body, cloud_custom_data, 0::BIGINT, \
     receipt_at, NULL::BIGINT, NULL::TEXT, NULL::TEXT, targets, at_users, sender_nick, sender_face_url";

/// A BIGINT column as an unsigned number.
fn unsigned<T: TryFrom<i64>>(row: &Row, column: usize) -> StoreResult<T> {
    let value: i64 = row.try_get(column)?;
    T::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("column {column} holds {value}, out of range")))
}

/// An unsigned number as a BIGINT parameter (every stored number fits: sequences and times are
/// made by the store, the rest are u32).
pub(super) fn bigint(value: impl TryInto<i64>) -> StoreResult<i64> {
    value
        .try_into()
        .map_err(|_| StoreError::Corrupt("a number does not fit a BIGINT".into()))
}

/// How many columns [`GROUP_COLUMNS`] selects: a joined query's next columns start here.
pub(super) const GROUP_COLUMN_COUNT: usize = 8;

pub(super) fn group(row: &Row) -> StoreResult<GroupRecord> {
    let type_name: String = row.try_get(1)?;
    Ok(GroupRecord {
        group_id: row.try_get(0)?,
        group_type: GroupType::parse(&type_name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown group type {type_name}")))?,
        name: row.try_get(2)?,
        owner: row.try_get(3)?,
        created_at: row.try_get(4)?,
        last_seq: unsigned(row, 5)?,
        member_count: unsigned(row, 6)?,
        activity: unsigned(row, 7)?,
    })
}

pub(super) fn member(row: &Row) -> StoreResult<MemberRecord> {
    member_from(row, 0)
}

/// A member whose [`MEMBER_COLUMNS`] start at column `first`.
pub(super) fn member_from(row: &Row, first: usize) -> StoreResult<MemberRecord> {
    Ok(MemberRecord {
        group_id: row.try_get(first)?,
        user_id: row.try_get(first + 1)?,
        ordinal: unsigned(row, first + 2)?,
        role: GroupRole::try_from(unsigned::<u32>(row, first + 3)?).map_err(StoreError::Corrupt)?,
        joined_at: row.try_get(first + 4)?,
        read_seq: unsigned(row, first + 5)?,
        active: row.try_get(first + 6)?,
        profile: UserCard {
            nick: row.try_get(first + 7)?,
            face_url: row.try_get(first + 8)?,
        },
        name_card: row.try_get(first + 9)?,
    })
}

pub(super) fn message(row: &Row) -> StoreResult<MessageRecord> {
    Ok(MessageRecord {
        message: NewMessage {
            msg_id: row.try_get(0)?,
            sender: row.try_get(1)?,
            receiver: row.try_get(2)?,
            group_id: row.try_get(3)?,
            timestamp: row.try_get(4)?,
            random: unsigned(row, 5)?,
            need_receipt: row.try_get(6)?,
            excluded_unread: row.try_get(7)?,
            elem_type: unsigned(row, 8)?,
            body: row.try_get(9)?,
            cloud_custom_data: row.try_get(10)?,
            targets: decode_ids(row.try_get::<_, Option<String>>(16)?.as_deref()),
            at_users: decode_ids(row.try_get::<_, Option<String>>(17)?.as_deref()),
            sender_card: UserCard {
                nick: row.try_get(18)?,
                face_url: row.try_get(19)?,
            },
        },
        seq: unsigned(row, 11)?,
        receipt_at: row.try_get(12)?,
        revoked: match row.try_get::<_, Option<i64>>(13)? {
            None => None,
            Some(at) => Some(Revocation {
                at,
                by: row.try_get::<_, Option<String>>(14)?.unwrap_or_default(),
                reason: row.try_get::<_, Option<String>>(15)?.unwrap_or_default(),
            }),
        },
    })
}

pub(super) fn c2c(row: &Row) -> StoreResult<C2cConversationRecord> {
    Ok(C2cConversationRecord {
        owner: row.try_get(0)?,
        peer: row.try_get(1)?,
        last_seq: unsigned(row, 2)?,
        last_time: row.try_get(3)?,
        read_seq: unsigned(row, 4)?,
        read_time: row.try_get(5)?,
        activity: unsigned(row, 6)?,
        shown_read_seq: unsigned(row, 7)?,
        shown_read_time: row.try_get(8)?,
    })
}

pub(super) fn user(row: &Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        user_id: row.try_get(0)?,
        profile: UserProfile {
            nick: row.try_get(1)?,
            face_url: row.try_get(2)?,
            self_signature: row.try_get(4)?,
            gender: profile::decode_gender(row.try_get(5)?)?,
            custom: profile::decode_custom(row.try_get(6)?)?,
        },
        created_at: row.try_get(3)?,
    })
}

/// Maps every row, stopping at the first that cannot be read.
pub(super) fn all<T>(rows: &[Row], map: fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(map).collect()
}
