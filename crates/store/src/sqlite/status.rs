//! SQLite queries of online status: subscriptions to users' status and custom statuses.

use rusqlite::{Connection, params};

use crate::StoreResult;

/// Subscribes `subscriber` to each target from `rank` on, then keeps its `cap` latest.
pub(super) fn subscribe(
    conn: &Connection,
    subscriber: &str,
    targets: &[String],
    rank: i64,
    cap: usize,
) -> StoreResult<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO status_subscriptions (subscriber, target, rank) VALUES (?1, ?2, ?3) \
         ON CONFLICT (subscriber, target) DO UPDATE SET rank = excluded.rank",
    )?;
    for (offset, target) in (0_i64..).zip(targets) {
        upsert.execute(params![subscriber, target, rank.saturating_add(offset)])?;
    }
    let cap = i64::try_from(cap).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "DELETE FROM status_subscriptions WHERE subscriber = ?1 AND target NOT IN \
         (SELECT target FROM status_subscriptions WHERE subscriber = ?1 \
          ORDER BY rank DESC, target DESC LIMIT ?2)",
    )?
    .execute(params![subscriber, cap])?;
    Ok(())
}

/// Ends the subscriber's subscriptions to `targets`, or all of them when it is empty.
pub(super) fn unsubscribe(
    conn: &Connection,
    subscriber: &str,
    targets: &[String],
) -> StoreResult<()> {
    if targets.is_empty() {
        conn.prepare_cached("DELETE FROM status_subscriptions WHERE subscriber = ?1")?
            .execute(params![subscriber])?;
        return Ok(());
    }
    let mut delete = conn
        .prepare_cached("DELETE FROM status_subscriptions WHERE subscriber = ?1 AND target = ?2")?;
    for target in targets {
        delete.execute(params![subscriber, target])?;
    }
    Ok(())
}

/// The subscribers of `target`, in ID order.
pub(super) fn subscribers(conn: &Connection, target: &str) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT subscriber FROM status_subscriptions WHERE target = ?1 ORDER BY subscriber",
    )?;
    let rows = stmt.query_map(params![target], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whom `subscriber` is subscribed to, the earliest first.
pub(super) fn subscriptions(conn: &Connection, subscriber: &str) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT target FROM status_subscriptions WHERE subscriber = ?1 ORDER BY rank, target",
    )?;
    let rows = stmt.query_map(params![subscriber], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets (or, when empty, clears) the user's custom status; whether it changed.
pub(super) fn set_custom(
    conn: &Connection,
    user_id: &str,
    custom_status: &str,
) -> StoreResult<bool> {
    let changed = if custom_status.is_empty() {
        conn.prepare_cached("DELETE FROM custom_statuses WHERE user_id = ?1")?
            .execute(params![user_id])?
    } else {
        conn.prepare_cached(
            "INSERT INTO custom_statuses (user_id, custom_status) VALUES (?1, ?2) \
             ON CONFLICT (user_id) DO UPDATE SET custom_status = excluded.custom_status \
             WHERE custom_statuses.custom_status <> excluded.custom_status",
        )?
        .execute(params![user_id, custom_status])?
    };
    Ok(changed > 0)
}

/// Each user's custom status, empty when none.
pub(super) fn custom(conn: &Connection, user_ids: &[String]) -> StoreResult<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT custom_status FROM custom_statuses WHERE user_id = ?1")?;
    user_ids
        .iter()
        .map(|user_id| {
            let mut rows = stmt.query(params![user_id])?;
            Ok(match rows.next()? {
                Some(row) => row.get(0)?,
                None => String::new(),
            })
        })
        .collect()
}
