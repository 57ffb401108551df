//! Turns stored messages into V2TIM message objects as one viewer sees them.

use std::collections::{HashMap, HashSet};

use tidings_proto::{MSG_STATUS_REVOKED, MSG_STATUS_SENT, Message, ReadMemberInfo, RichElems};
use tidings_store::{MessageRecord, UserProfile};

use crate::ServiceResult;
use crate::content::{MessageContent, content_of};

/// What a viewer's rendering depends on besides the message itself.
#[derive(Debug, Default)]
pub(crate) struct Viewer<'a> {
    /// The viewing user.
    pub user: &'a str,
    /// The viewer's read position in the conversation.
    pub read_seq: u64,
    /// C2C: the peer's conversation-level read position (for `isPeerRead` of the viewer's own
    /// messages).
    pub peer_read_seq: u64,
    /// Group: messages the viewer already sent a receipt for.
    pub receipted: HashSet<String>,
    /// Profiles of the users who recalled messages being rendered (missing ones: empty).
    pub revokers: HashMap<String, UserProfile>,
}

/// A user as V2TIM's user info: the ID and, when known, the profile's nickname and picture.
pub(crate) fn user_info(user_id: &str, profile: Option<&UserProfile>) -> ReadMemberInfo {
    ReadMemberInfo {
        user_id: user_id.to_owned(),
        nick_name: profile.map(|p| p.nick.clone()).unwrap_or_default(),
        face_url: profile.map(|p| p.face_url.clone()).unwrap_or_default(),
        name_card: String::new(),
    }
}

/// Renders a message fresh from the store for a user: their own messages are read; anyone
/// else's are not read yet and carry no receipt state.
pub(crate) fn render_for(record: &MessageRecord, user: &str) -> ServiceResult<Message> {
    render(
        record,
        &Viewer {
            user,
            ..Viewer::default()
        },
    )
}

/// Renders a stored message for a viewer.
pub(crate) fn render(record: &MessageRecord, viewer: &Viewer<'_>) -> ServiceResult<Message> {
    let stored = &record.message;
    let is_self = stored.sender == viewer.user;
    // A recalled message's body was erased: it has no element to show.
    let mut text_elem = None;
    let mut custom_elem = None;
    let mut rich = RichElems::default();
    let mut msg_body = None;
    if record.revoked.is_none() {
        match content_of(stored)? {
            MessageContent::Elem(elem) => {
                elem.into_fields(&mut text_elem, &mut custom_elem, &mut rich)
            }
            MessageContent::Verbatim(elements) => msg_body = Some(elements),
        }
    }
    let user_id = match (&stored.group_id, &stored.receiver) {
        (None, Some(receiver)) if is_self => Some(receiver.clone()),
        (None, _) => Some(stored.sender.clone()),
        (Some(_), _) => None,
    };
    let is_c2c = stored.group_id.is_none();
    let has_sent_receipt = !is_self
        && stored.need_receipt
        && if is_c2c {
            record.receipt_at.is_some()
        } else {
            viewer.receipted.contains(&stored.msg_id)
        };
    Ok(Message {
        msg_id: stored.msg_id.clone(),
        timestamp: stored.timestamp,
        seq: record.seq,
        random: stored.random,
        sender: stored.sender.clone(),
        user_id,
        group_id: stored.group_id.clone(),
        is_self,
        is_read: is_self || (record.seq != 0 && record.seq <= viewer.read_seq),
        is_peer_read: is_c2c && is_self && record.seq != 0 && record.seq <= viewer.peer_read_seq,
        receipt_peer_read: is_c2c && is_self && record.receipt_at.is_some(),
        need_read_receipt: stored.need_receipt,
        has_sent_receipt,
        is_excluded_from_unread_count: stored.excluded_unread,
        elem_type: stored.elem_type,
        text_elem,
        custom_elem,
        rich,
        msg_body,
        cloud_custom_data: stored.cloud_custom_data.clone(),
        status: if record.revoked.is_some() {
            MSG_STATUS_REVOKED
        } else {
            MSG_STATUS_SENT
        },
        is_revoked: record.revoked.is_some(),
        revoker_info: record
            .revoked
            .as_ref()
            .map(|r| user_info(&r.by, viewer.revokers.get(&r.by))),
        revoke_reason: record
            .revoked
            .as_ref()
            .map(|r| r.reason.clone())
            .unwrap_or_default(),
        group_at_user_list: stored.at_users.clone(),
        prev_seq: None,
        nick_name: stored.sender_card.nick.clone(),
        face_url: stored.sender_card.face_url.clone(),
    })
}
