//! A page of the conversation list with the parts of each conversation's view, read in one
//! read transaction on one reader (see `Store::conversation_page_parts`).

use rusqlite::Connection;

use super::{conversations, messages, receipts};
use crate::{ConvKey, ConversationEntry, ConversationParts, GroupType, PartsLimits, StoreResult};

/// The page of the owner's conversations below `before`, each with its view's parts.
pub(super) fn page_parts(
    conn: &Connection,
    owner: &str,
    before: Option<u64>,
    limit: u32,
    limits: PartsLimits,
) -> StoreResult<Vec<ConversationParts>> {
    conversations::page(conn, owner, before, limit)?
        .into_iter()
        .map(|entry| parts_of(conn, owner, entry, limits))
        .collect()
}

/// The parts of one entry's view.
fn parts_of(
    conn: &Connection,
    owner: &str,
    entry: ConversationEntry,
    limits: PartsLimits,
) -> StoreResult<ConversationParts> {
    Ok(match &entry {
        ConversationEntry::C2c(mine) => {
            let conv = ConvKey::c2c(owner, &mine.peer);
            let unread = messages::count_unread(conn, &conv, mine.read_seq, owner)?;
            let last = messages::history(conn, &conv, None, 1)?.pop();
            let peer_shown_read_seq = conversations::c2c_one(conn, &mine.peer, owner)?
                .map_or(0, |theirs| theirs.shown_read_seq);
            ConversationParts {
                peer_shown_read_seq,
                ..ConversationParts::new(entry, unread, last)
            }
        }
        ConversationEntry::Group(group, member) => {
            let conv = ConvKey::Group(group.group_id.clone());
            let unread = if group.group_type == GroupType::AvChatRoom {
                0
            } else {
                messages::count_unread(conn, &conv, member.read_seq, owner)?
            };
            let last = messages::history(conn, &conv, None, 1)?.pop();
            let last_receipts = match last.as_ref().filter(|r| r.message.need_receipt) {
                Some(record) => {
                    receipts::group_states(conn, vec![record.message.msg_id.clone()])?.pop()
                }
                None => None,
            };
            let targeted_run = match last.as_ref().filter(|r| r.seq > 1) {
                Some(record) => messages::targeted_before(
                    conn,
                    &group.group_id,
                    record.seq,
                    limits.targeted_run,
                )?,
                None => Vec::new(),
            };
            let mentions = if unread > 0 {
                messages::mentions_after(
                    conn,
                    &group.group_id,
                    member.read_seq,
                    owner,
                    limits.mentions,
                )?
            } else {
                Vec::new()
            };
            ConversationParts {
                last_receipts,
                targeted_run,
                mentions,
                ..ConversationParts::new(entry, unread, last)
            }
        }
    })
}
