//! The SQLite schema's versions, recorded in the database header (`PRAGMA user_version`) and
//! applied at start in the writer's first transaction.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreResult;
use crate::migrations::{Migration, pending};

/// Every step of this engine's schema, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("schema_v1.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("schema_v2.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("schema_v3.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("schema_v4.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("schema_v5.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("schema_v6.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("schema_v7.sql"),
    },
    Migration {
        version: 8,
        sql: include_str!("schema_v8.sql"),
    },
    Migration {
        version: 9,
        sql: include_str!("schema_v9.sql"),
    },
    Migration {
        version: 10,
        sql: include_str!("schema_v10.sql"),
    },
    Migration {
        version: 11,
        sql: include_str!("schema_v11.sql"),
    },
];

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let steps = pending(MIGRATIONS, current)?;
    for step in steps {
        tx.execute_batch(step.sql)?;
        tx.pragma_update(None, "user_version", step.version)?;
    }
    tx.commit()?;
    if let Some(last) = steps.last() {
        tracing::info!(version = last.version, "SQLite schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sqlite_schema_runs_every_version_up_to_the_schema_version() {
        assert!(crate::migrations::runs_every_version(super::MIGRATIONS));
    }
}
