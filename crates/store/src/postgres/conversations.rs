//! PostgreSQL queries of the conversation list: a page in activity order, the total unread
//! count, marking everything read, and a user's groups page by page and counted.

use super::PgStore;
use super::rows::{self, C2C_COLUMNS, GROUP_COLUMN_COUNT, GROUP_COLUMNS, MEMBER_COLUMNS, bigint};
use crate::{
    ConversationEntry, GroupCounts, GroupRecord, MemberRecord, ReadMoved, ReadScope, StoreResult,
};

/// `columns` with each name qualified by `table`.
fn prefixed(table: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl PgStore {
    pub(super) async fn unread_total(&self, owner: &str) -> StoreResult<u64> {
        let totals = self.unread_totals(&[owner.to_owned()]).await?;
        Ok(totals.first().copied().unwrap_or(0))
    }

    /// The unread total of each owner (see `Store::total_unread`), in the order given, in one
    /// query.
    pub(super) async fn unread_totals(&self, owners: &[String]) -> StoreResult<Vec<u64>> {
        let found = self
            .client()
            .await?
            .query(
                "SELECT \
                 (SELECT COUNT(*) FROM c2c_conversations c JOIN messages m \
                  ON m.conv = 'c ' || LEAST(c.owner, c.peer) || ' ' || GREATEST(c.owner, c.peer) \
                  AND m.seq > c.read_seq AND m.sender <> c.owner AND NOT m.excluded_unread \
                  WHERE c.owner = o.owner) + \
                 (SELECT COUNT(*) FROM members mb JOIN groups g ON g.group_id = mb.group_id \
                  JOIN messages m ON m.conv = 'g ' || g.group_id AND m.seq > mb.read_seq \
                  AND m.sender <> mb.user_id AND NOT m.excluded_unread \
                  WHERE mb.user_id = o.owner AND mb.active AND g.group_type <> 'AVChatRoom') \
                 FROM unnest($1::text[]) WITH ORDINALITY AS o(owner, n) ORDER BY o.n",
                &[&owners],
            )
            .await?;
        found
            .iter()
            .map(|row| Ok(row.try_get::<_, i64>(0)? as u64))
            .collect()
    }

    pub(super) async fn all_read(
        &self,
        owner: &str,
        scope: ReadScope,
        now: i64,
    ) -> StoreResult<Vec<ReadMoved>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut moved = Vec::new();
        if scope.c2c {
            let private: bool = tx
                .query_opt(
                    "SELECT private_receipts FROM users WHERE user_id = $1",
                    &[&owner],
                )
                .await?
                .map(|row| row.try_get(0))
                .transpose()?
                .unwrap_or(false);
            // The right-hand sides read the row as it was.
            for row in tx
                .query(
                    "UPDATE c2c_conversations SET read_seq = last_seq, \
                     read_time = GREATEST(read_time, $2), \
                     shown_read_seq = CASE WHEN $3 THEN shown_read_seq ELSE last_seq END, \
                     shown_read_time = CASE WHEN $3 THEN shown_read_time \
                     ELSE GREATEST(read_time, $2) END \
                     WHERE owner = $1 AND read_seq < last_seq RETURNING peer, read_seq, read_time",
                    &[&owner, &now, &private],
                )
                .await?
            {
                let read_seq: i64 = row.try_get(1)?;
                moved.push(ReadMoved::C2c {
                    peer: row.try_get(0)?,
                    read_seq: read_seq as u64,
                    read_time: row.try_get(2)?,
                    shown: !private,
                });
            }
        }
        if scope.groups {
            for row in tx
                .query(
                    "UPDATE members SET read_seq = g.last_seq FROM groups g \
                     WHERE members.user_id = $1 AND members.active \
                     AND g.group_id = members.group_id AND members.read_seq < g.last_seq \
                     RETURNING members.group_id, members.read_seq",
                    &[&owner],
                )
                .await?
            {
                let read_seq: i64 = row.try_get(1)?;
                moved.push(ReadMoved::Group {
                    group_id: row.try_get(0)?,
                    read_seq: read_seq as u64,
                });
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    pub(super) async fn joined_page(
        &self,
        user_id: &str,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<(GroupRecord, MemberRecord)>> {
        let group_columns = prefixed("g", GROUP_COLUMNS);
        let found = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {group_columns}, {MEMBER_COLUMNS} FROM members m \
                     JOIN groups g ON g.group_id = m.group_id \
                     LEFT JOIN users u ON u.user_id = m.user_id \
                     WHERE m.user_id = $1 AND m.active AND m.group_id > $2 \
                     ORDER BY m.group_id LIMIT $3"
                ),
                &[&user_id, &after, &bigint(limit)?],
            )
            .await?;
        found
            .iter()
            .map(|row| {
                Ok((
                    rows::group(row)?,
                    rows::member_from(row, GROUP_COLUMN_COUNT)?,
                ))
            })
            .collect()
    }

    pub(super) async fn counts(&self, user_id: &str) -> StoreResult<GroupCounts> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT (SELECT COUNT(*) FROM groups WHERE owner = $1), \
                 (SELECT COUNT(*) FROM members WHERE user_id = $1 AND active)",
                &[&user_id],
            )
            .await?;
        let (owned, joined): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(GroupCounts {
            owned: owned as u64,
            joined: joined as u64,
        })
    }
}

/// A read-only transaction on one snapshot: every query of a page sees the same state, so an
/// entry that moves meanwhile is neither seen twice nor described as it was elsewhere.
pub(super) async fn snapshot(
    client: &mut deadpool_postgres::Object,
) -> StoreResult<deadpool_postgres::Transaction<'_>> {
    Ok(client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

/// A page of the owner's conversation list (see `Store::conversation_page_parts`), read in `tx`.
pub(super) async fn page_in(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: &str,
    before: Option<u64>,
    limit: u32,
) -> StoreResult<Vec<ConversationEntry>> {
    let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let limit = i64::from(limit);
    let c2c = tx
        .query(
            &format!(
                "SELECT {C2C_COLUMNS} FROM c2c_conversations WHERE owner = $1 \
                     AND activity < $2 ORDER BY activity DESC LIMIT $3"
            ),
            &[&owner, &before, &limit],
        )
        .await?;
    let group_columns = prefixed("g", GROUP_COLUMNS);
    let groups = tx
        .query(
            &format!(
                "SELECT {group_columns}, {MEMBER_COLUMNS} FROM members m \
                     JOIN groups g ON g.group_id = m.group_id \
                     LEFT JOIN users u ON u.user_id = m.user_id \
                     WHERE m.user_id = $1 AND m.active AND g.activity < $2 \
                     ORDER BY g.activity DESC LIMIT $3"
            ),
            &[&owner, &before, &limit],
        )
        .await?;
    let mut entries = Vec::with_capacity(c2c.len() + groups.len());
    for row in &c2c {
        entries.push(ConversationEntry::C2c(rows::c2c(row)?));
    }
    for row in &groups {
        entries.push(ConversationEntry::Group(
            rows::group(row)?,
            rows::member_from(row, GROUP_COLUMN_COUNT)?,
        ));
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.activity()));
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(entries)
}
