//! The stored form of read-state sets (roaring bitmaps of member ordinals as bytes), of
//! user-ID lists (a message's targets and mentions), of a message's row, and the columns rows
//! are read by, for every engine.

use roaring::RoaringBitmap;

use crate::{NewMessage, StoreError, StoreResult};

/// The portable serialized form of `bitmap` (Roaring's own format).
pub(crate) fn encode_bitmap(bitmap: &RoaringBitmap) -> StoreResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut bytes)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(bytes)
}

/// Reads a bitmap written by [`encode_bitmap`].
pub(crate) fn decode_bitmap(bytes: &[u8]) -> StoreResult<RoaringBitmap> {
    RoaringBitmap::deserialize_from(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The stored form of a list of user IDs: each ID between newlines (`"\na\nb\n"`), so that
/// `"\n" + id + "\n"` occurs in it exactly when `id` is listed; None for an empty list. User IDs
/// are printable ASCII, without newlines.
pub(crate) fn encode_ids(ids: &[String]) -> Option<String> {
    if ids.is_empty() {
        return None;
    }
    let mut text = String::from("\n");
    for id in ids {
        text.push_str(id);
        text.push('\n');
    }
    Some(text)
}

/// Reads a list written by [`encode_ids`] (NULL: empty).
pub(crate) fn decode_ids(text: Option<&str>) -> Vec<String> {
    text.map_or_else(Vec::new, |text| {
        text.split('\n')
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// The columns of a row of each kind as both engines read it (`rows.rs` of each maps them).
pub(crate) const USER_COLUMNS: &str =
    "user_id, nick, face_url, created_at, self_signature, gender, custom_info";
pub(crate) const GROUP_COLUMNS: &str =
    "group_id, group_type, name, owner, created_at, last_seq, member_count, activity";
/// Selected from `members m LEFT JOIN users u ON u.user_id = m.user_id`.
pub(crate) const MEMBER_COLUMNS: &str = "m.group_id, m.user_id, m.ordinal, m.role, m.joined_at, \
     m.read_seq, m.active, COALESCE(u.nick, ''), COALESCE(u.face_url, ''), m.name_card";
pub(crate) const MESSAGE_COLUMNS: &str = "msg_id, sender, receiver, group_id, timestamp, random, \
     need_receipt, excluded_unread, elem_type, body, cloud_custom_data, seq, receipt_at, revoked_at, revoked_by, revoke_reason, \
     targets, at_users, sender_nick, sender_face_url";
pub(crate) const C2C_COLUMNS: &str = "owner, peer, last_seq, last_time, read_seq, read_time, activity, shown_read_seq, \
     shown_read_time";

/// A message's row as both engines store it in either message table, with the values that are
/// converted for storing converted once; [`message_row_params`] lists them in the order of
/// [`insert_message_statement`]'s columns.
pub(crate) struct MessageRow<'a> {
    pub message: &'a NewMessage,
    pub conv: &'a str,
    pub random: i64,
    pub elem_type: i64,
    pub targets: Option<String>,
    pub at_users: Option<String>,
}

impl<'a> MessageRow<'a> {
    /// The row of `message` in conversation `conv` (its encoded `ConvKey`).
    pub(crate) fn new(message: &'a NewMessage, conv: &'a str) -> Self {
        MessageRow {
            message,
            conv,
            random: i64::from(message.random),
            elem_type: i64::from(message.elem_type),
            targets: encode_ids(&message.targets),
            at_users: encode_ids(&message.at_users),
        }
    }
}

/// The statement that stores a [`MessageRow`] bound as [`message_row_params`] lists it: into
/// `messages` when it has a sequence (`sequenced`), else into `online_messages`, which has no
/// `seq` column. One text serves both engines: SQLite numbers `$N` parameters in the order they
/// first appear, which is their numeric order here.
pub(crate) fn insert_message_statement(sequenced: bool) -> &'static str {
    if sequenced {
        "INSERT INTO messages (msg_id, conv, sender, receiver, group_id, timestamp, random, \
         need_receipt, excluded_unread, elem_type, body, cloud_custom_data, targets, at_users, \
         sender_nick, sender_face_url, seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    } else {
        "INSERT INTO online_messages (msg_id, conv, sender, receiver, group_id, timestamp, \
         random, need_receipt, excluded_unread, elem_type, body, cloud_custom_data, targets, \
         at_users, sender_nick, sender_face_url) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    }
}

/// A [`MessageRow`]'s values in the order of [`insert_message_statement`]'s columns, then the
/// sequence when there is one (`$seq`, an `&Option<…>`: Some for a message of `messages`), as a
/// `Vec<&$param>`, `$param` being the `ToSql` trait object type of the caller's driver.
macro_rules! message_row_params {
    ($row:expr, $seq:expr, $param:ty) => {{
        let mut params: Vec<&$param> = vec![
            &$row.message.msg_id,
            &$row.conv,
            &$row.message.sender,
            &$row.message.receiver,
            &$row.message.group_id,
            &$row.message.timestamp,
            &$row.random,
            &$row.message.need_receipt,
            &$row.message.excluded_unread,
            &$row.elem_type,
            &$row.message.body,
            &$row.message.cloud_custom_data,
            &$row.targets,
            &$row.at_users,
            &$row.message.sender_card.nick,
            &$row.message.sender_card.face_url,
        ];
        if let Some(seq) = $seq {
            params.push(seq);
        }
        params
    }};
}

pub(crate) use message_row_params;
