//! SQLite queries of the stored runtime settings: named text values.

use rusqlite::{Connection, params};

use crate::StoreResult;

/// Every stored setting, in name order.
pub(super) fn all(conn: &Connection) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT name, value FROM settings ORDER BY name")?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets each named value, replacing an earlier one.
pub(super) fn put(conn: &Connection, settings: &[(String, String)]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )?;
    for (name, value) in settings {
        stmt.execute(params![name, value])?;
    }
    Ok(())
}
