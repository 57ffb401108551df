//! PostgreSQL: a page of the conversation list with the parts of each conversation's view (see
//! `Store::conversation_page_parts`), in a fixed number of queries whatever the page's size.

use super::PgStore;
use super::conversations::{page_in, snapshot};
use super::rows::{self, MESSAGE_COLUMNS, bigint};
use crate::codec::decode_ids;
use crate::{
    ConvKey, ConversationEntry, ConversationParts, GroupType, Mention, MessageRecord, PartsLimits,
    Store, StoreError, StoreResult, TargetedSeq,
};
use tidings_proto::methods::GROUP_AT_ALL;

impl PgStore {
    pub(super) async fn page_parts(
        &self,
        owner: &str,
        before: Option<u64>,
        limit: u32,
        limits: PartsLimits,
    ) -> StoreResult<Vec<ConversationParts>> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let entries = page_in(&tx, owner, before, limit).await?;
        let convs: Vec<String> = entries
            .iter()
            .map(|entry| conv_of(owner, entry).encode())
            .collect();
        // An AVChatRoom counts nothing unread: counting after the largest sequence finds none.
        let counted_after = entries
            .iter()
            .map(|entry| match entry {
                ConversationEntry::C2c(mine) => bigint(mine.read_seq),
                ConversationEntry::Group(group, _) if group.group_type == GroupType::AvChatRoom => {
                    Ok(i64::MAX)
                }
                ConversationEntry::Group(_, member) => bigint(member.read_seq),
            })
            .collect::<StoreResult<Vec<i64>>>()?;
        let peers: Vec<Option<&str>> = entries
            .iter()
            .map(|entry| match entry {
                ConversationEntry::C2c(mine) => Some(mine.peer.as_str()),
                ConversationEntry::Group(..) => None,
            })
            .collect();
        let counts = tx
            .query(
                "SELECT (SELECT COUNT(*) FROM messages m WHERE m.conv = v.conv \
                 AND m.seq > v.after_seq AND m.sender <> $1 AND NOT m.excluded_unread), \
                 COALESCE((SELECT t.shown_read_seq FROM c2c_conversations t \
                 WHERE t.owner = v.peer AND t.peer = $1), 0) \
                 FROM unnest($2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY \
                 AS v(conv, after_seq, peer, n) ORDER BY v.n",
                &[&owner, &convs, &counted_after, &peers],
            )
            .await?;
        let found = tx
            .query(
                &format!(
                    "SELECT x.*, v.n FROM unnest($1::text[]) WITH ORDINALITY AS v(conv, n) \
                     CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages \
                     WHERE conv = v.conv ORDER BY seq DESC LIMIT 1) x"
                ),
                &[&convs],
            )
            .await?;
        let mut lasts: Vec<Option<MessageRecord>> = vec![None; entries.len()];
        for row in &found {
            *slot(&mut lasts, row.try_get("n")?)? = Some(rows::message(row)?);
        }
        let mut pages = Vec::with_capacity(entries.len());
        for ((entry, row), last) in entries.into_iter().zip(&counts).zip(lasts) {
            pages.push(ConversationParts {
                peer_shown_read_seq: unsigned(row.try_get(1)?)?,
                ..ConversationParts::new(entry, unsigned(row.try_get(0)?)?, last)
            });
        }
        self.group_parts(&tx, owner, &mut pages, limits).await?;
        tx.commit().await?;
        drop(client);
        self.last_receipts(&mut pages).await?;
        Ok(pages)
    }

    /// Fills in the groups' targeted runs and mentions, one query each for the whole page.
    async fn group_parts(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        owner: &str,
        pages: &mut [ConversationParts],
        limits: PartsLimits,
    ) -> StoreResult<()> {
        let mut run_of = Vec::new();
        let mut mentions_of = Vec::new();
        for (i, parts) in pages.iter().enumerate() {
            let ConversationEntry::Group(group, member) = &parts.entry else {
                continue;
            };
            let conv = ConvKey::Group(group.group_id.clone()).encode();
            if let Some(last) = parts.last.as_ref().filter(|last| last.seq > 1) {
                run_of.push((i, conv.clone(), bigint(last.seq)?));
            }
            if parts.unread > 0 {
                mentions_of.push((i, conv, bigint(member.read_seq)?));
            }
        }
        let (convs, before): (Vec<&str>, Vec<i64>) =
            run_of.iter().map(|(_, c, s)| (c.as_str(), *s)).unzip();
        let runs = tx
            .query(
                "SELECT v.n, x.seq, x.sender, x.targets \
                 FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS v(conv, before_seq, n) \
                 CROSS JOIN LATERAL (SELECT seq, sender, targets FROM messages \
                  WHERE conv = v.conv AND seq < v.before_seq AND targets IS NOT NULL \
                  AND seq > COALESCE((SELECT seq FROM messages WHERE conv = v.conv \
                  AND seq < v.before_seq AND targets IS NULL ORDER BY seq DESC LIMIT 1), 0) \
                  ORDER BY seq DESC LIMIT $3) x \
                 ORDER BY v.n, x.seq",
                &[&convs, &before, &i64::from(limits.targeted_run)],
            )
            .await?;
        for row in &runs {
            let (i, _, _) = slot(&mut run_of, row.try_get(0)?)?;
            pages[*i].targeted_run.push(TargetedSeq {
                seq: unsigned(row.try_get(1)?)?,
                sender: row.try_get(2)?,
                targets: decode_ids(row.try_get::<_, Option<String>>(3)?.as_deref()),
            });
        }
        let (convs, after): (Vec<&str>, Vec<i64>) =
            mentions_of.iter().map(|(_, c, s)| (c.as_str(), *s)).unzip();
        let mentions = tx
            .query(
                "SELECT v.n, x.seq, x.me, x.everyone \
                 FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS v(conv, after_seq, n) \
                 CROSS JOIN LATERAL ( \
                  SELECT seq, strpos(at_users, chr(10) || $3 || chr(10)) > 0 AS me, \
                  strpos(at_users, chr(10) || $4 || chr(10)) > 0 AS everyone FROM messages \
                  WHERE conv = v.conv AND seq > v.after_seq AND at_users IS NOT NULL \
                  AND sender <> $3 \
                  AND (strpos(at_users, chr(10) || $3 || chr(10)) > 0 \
                  OR strpos(at_users, chr(10) || $4 || chr(10)) > 0) ORDER BY seq LIMIT $5) x \
                 ORDER BY v.n, x.seq",
                &[
                    &convs,
                    &after,
                    &owner,
                    &GROUP_AT_ALL,
                    &i64::from(limits.mentions),
                ],
            )
            .await?;
        for row in &mentions {
            let (i, _, _) = slot(&mut mentions_of, row.try_get(0)?)?;
            pages[*i].mentions.push(Mention {
                seq: unsigned(row.try_get(1)?)?,
                me: row.try_get(2)?,
                all: row.try_get(3)?,
            });
        }
        Ok(())
    }

    /// Fills in the receipt state of the groups' last messages that ask for receipts, in one
    /// read of them all.
    async fn last_receipts(&self, pages: &mut [ConversationParts]) -> StoreResult<()> {
        let asking: Vec<String> = pages
            .iter()
            .filter(|parts| matches!(parts.entry, ConversationEntry::Group(..)))
            .filter_map(|parts| parts.last.as_ref())
            .filter(|last| last.message.need_receipt)
            .map(|last| last.message.msg_id.clone())
            .collect();
        if asking.is_empty() {
            return Ok(());
        }
        let mut states = self.group_receipts(&asking).await?.into_iter().peekable();
        for parts in pages.iter_mut() {
            let Some(last) = &parts.last else { continue };
            if states
                .peek()
                .is_some_and(|s| s.msg_id == last.message.msg_id)
            {
                parts.last_receipts = states.next();
            }
        }
        Ok(())
    }
}

/// The conversation of an entry of `owner`'s list.
fn conv_of(owner: &str, entry: &ConversationEntry) -> ConvKey {
    match entry {
        ConversationEntry::C2c(mine) => ConvKey::c2c(owner, &mine.peer),
        ConversationEntry::Group(group, _) => ConvKey::Group(group.group_id.clone()),
    }
}

/// The element of `list` that the 1-based ordinal `n` of an `unnest … WITH ORDINALITY` names.
fn slot<T>(list: &mut [T], n: i64) -> StoreResult<&mut T> {
    usize::try_from(n - 1)
        .ok()
        .and_then(|i| list.get_mut(i))
        .ok_or_else(|| StoreError::Corrupt(format!("row number {n}")))
}

/// A count or sequence read back as the unsigned number it is.
fn unsigned(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative number {value}")))
}
