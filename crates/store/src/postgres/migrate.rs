//! The PostgreSQL schema's versions, applied at start under an advisory lock, so that nodes
//! starting together migrate once.

use deadpool_postgres::Object;

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

/// Any constant shared by every node: the key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x7469_6469_6e67_7301;

pub(super) async fn migrate(client: &mut Object) -> StoreResult<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS tidings_schema (version BIGINT NOT NULL)")
        .await?;
    let current: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM tidings_schema", &[])
        .await?
        .get(0);
    let steps = pending(MIGRATIONS, current)?;
    for step in steps {
        tx.batch_execute(step.sql).await?;
        tx.execute("DELETE FROM tidings_schema", &[]).await?;
        tx.execute(
            "INSERT INTO tidings_schema (version) VALUES ($1)",
            &[&step.version],
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(last) = steps.last() {
        tracing::info!(version = last.version, "PostgreSQL schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_postgres_schema_runs_every_version_up_to_the_schema_version() {
        assert!(crate::migrations::runs_every_version(super::MIGRATIONS));
    }
}
