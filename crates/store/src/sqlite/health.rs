//! The health check's write: one row rewritten, so that a full disk or a read-only file shows.

use rusqlite::Connection;

use crate::StoreResult;

pub(super) fn check(conn: &Connection, now: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO health (id, checked_at) VALUES (1, ?1) \
         ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        [now],
    )?;
    Ok(())
}
