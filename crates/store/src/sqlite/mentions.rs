//! Mentions for many viewers of one group in one scan: the mentioning messages after the
//! earliest viewer's position are read once and each viewer's list is cut from them, instead
//! of one scan of the same range per viewer.

use rusqlite::{Connection, params};
use tidings_proto::methods::GROUP_AT_ALL;

use super::messages;
use crate::codec::decode_ids;
use crate::{ConvKey, Mention, StoreResult};

/// The most mentioning messages one shared scan reads; past it, each viewer gets a query of its
/// own (bounded by its `limit`), so a long unread backlog never loads unboundedly many rows.
const SCAN_LIMIT: usize = 256;

/// A message of the group that mentions someone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mentioning {
    seq: u64,
    sender: String,
    at_users: Vec<String>,
}

/// [`messages::mentions_after`] for each `(viewer, after_seq)`, in the order given.
pub(super) fn mentions_after_of(
    conn: &Connection,
    group_id: &str,
    viewers: &[(String, u64)],
    limit: u32,
) -> StoreResult<Vec<Vec<Mention>>> {
    let Some(earliest) = viewers.iter().map(|(_, after_seq)| *after_seq).min() else {
        return Ok(Vec::new());
    };
    let scanned = mentioning_after(conn, group_id, earliest)?;
    if scanned.len() > SCAN_LIMIT {
        return viewers
            .iter()
            .map(|(viewer, after_seq)| {
                messages::mentions_after(conn, group_id, *after_seq, viewer, limit)
            })
            .collect();
    }
    Ok(viewers
        .iter()
        .map(|(viewer, after_seq)| per_viewer(&scanned, viewer, *after_seq, limit))
        .collect())
}

/// Up to `SCAN_LIMIT + 1` mentioning messages of the group with `seq > after_seq`, oldest first.
fn mentioning_after(
    conn: &Connection,
    group_id: &str,
    after_seq: u64,
) -> StoreResult<Vec<Mentioning>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, sender, at_users FROM messages \
         WHERE conv = ?1 AND seq > ?2 AND at_users IS NOT NULL ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            ConvKey::Group(group_id.to_owned()).encode(),
            after_seq,
            SCAN_LIMIT + 1
        ],
        |row| {
            Ok(Mentioning {
                seq: row.get(0)?,
                sender: row.get(1)?,
                at_users: decode_ids(row.get::<_, Option<String>>(2)?.as_deref()),
            })
        },
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// What one viewer's own query would answer, cut from a scan that covers its range.
fn per_viewer(scanned: &[Mentioning], viewer: &str, after_seq: u64, limit: u32) -> Vec<Mention> {
    scanned
        .iter()
        .filter(|message| message.seq > after_seq && message.sender != viewer)
        .filter_map(|message| {
            let me = message.at_users.iter().any(|user| user == viewer);
            let all = message.at_users.iter().any(|user| user == GROUP_AT_ALL);
            (me || all).then_some(Mention {
                seq: message.seq,
                me,
                all,
            })
        })
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentioning(seq: u64, sender: &str, at_users: &[&str]) -> Mentioning {
        Mentioning {
            seq,
            sender: sender.to_owned(),
            at_users: at_users.iter().map(|user| (*user).to_owned()).collect(),
        }
    }

    #[test]
    fn per_viewer_keeps_its_range_skips_its_own_messages_and_stops_at_the_limit() {
        let scanned = [
            mentioning(3, "bob", &["alice"]),
            mentioning(5, "alice", &[GROUP_AT_ALL]),
            mentioning(6, "carol", &["dave"]),
            mentioning(8, "carol", &["alice", GROUP_AT_ALL]),
            mentioning(9, "bob", &[GROUP_AT_ALL]),
        ];
        let mention = |seq, me, all| Mention { seq, me, all };
        assert_eq!(
            per_viewer(&scanned, "alice", 0, 10),
            vec![
                mention(3, true, false),
                mention(8, true, true),
                mention(9, false, true)
            ]
        );
        assert_eq!(
            per_viewer(&scanned, "alice", 3, 1),
            vec![mention(8, true, true)]
        );
        assert_eq!(
            per_viewer(&scanned, "dave", 5, 10),
            vec![
                mention(6, true, false),
                mention(8, false, true),
                mention(9, false, true)
            ]
        );
        assert_eq!(per_viewer(&scanned, "erin", 9, 10), Vec::<Mention>::new());
    }
}
