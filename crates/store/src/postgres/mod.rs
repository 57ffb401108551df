//! The PostgreSQL engine: a connection pool shared by any number of nodes' stores, each call
//! one transaction, and group receipts recorded in batches under row locks.
//!
//! Several `PgStore`s (one per node) may write the same database at once. Every property the
//! SQLite engine gets from its single writer thread is held here by the database: sequences come
//! from a counter row updated in the message's transaction (its row lock orders writers, a
//! rollback returns the number), membership changes lock the group row before reading the
//! member bitmap, and a receipt batch locks the receipt rows it changes (in message-ID order, so
//! two nodes' batches cannot deadlock) before reading them. Commits use the server's durable
//! default (`synchronous_commit = on`), so a call returns only after its data is on disk, unless
//! [`Synchronous::Normal`] asks for `synchronous_commit = off` (as SQLite's `normal`: what was
//! acknowledged survives a killed Tidings process, but a crash of the database server may lose
//! its last fraction of a second of commits).

mod cached;
mod conversations;
mod migrate;
mod parts;
mod queries;
mod receipts;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::{StoreError, StoreResult, Synchronous};
use receipts::ReceiptBatcher;

/// Options of the PostgreSQL engine.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user@host:port/database` (libpq-style URL).
    pub url: String,
    /// Most connections this store opens.
    pub pool_size: usize,
    /// Longest a statement may run, and longest a call waits for a connection: past it the
    /// call fails with [`StoreError::Unavailable`] instead of hanging.
    pub statement_timeout: Duration,
    /// Most group receipt calls recorded in one transaction.
    pub max_receipt_batch: usize,
    /// `Full`: each commit waits for its WAL flush (the server's default); `Normal`: it does
    /// not (`synchronous_commit = off` for this store's sessions).
    pub synchronous: Synchronous,
}

impl PgOptions {
    /// Defaults for a database URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
            max_receipt_batch: 512,
            synchronous: Synchronous::Full,
        }
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    receipts: ReceiptBatcher,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, brings the schema up to date, and starts the receipt batcher. Fails with
    /// [`StoreError::Unavailable`] when the database cannot be reached.
    pub async fn open(options: PgOptions) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(&options.url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
        let timeout_ms = options.statement_timeout.as_millis();
        // A server that stops answering (host down, network cut) fails requests within the
        // timeout too: the kernel gives up on unacknowledged data after it, and idle
        // connections are probed.
        config
            .connect_timeout(options.statement_timeout)
            .tcp_user_timeout(options.statement_timeout)
            .keepalives(true)
            .keepalives_idle(options.statement_timeout)
            .options(session_options(timeout_ms, options.synchronous))
            .application_name("tidings");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.statement_timeout))
            .create_timeout(Some(options.statement_timeout))
            .recycle_timeout(Some(options.statement_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot build the pool: {e}")))?;
        {
            let mut client = connection(&pool).await?;
            migrate::migrate(&mut client).await?;
        }
        let receipts = ReceiptBatcher::start(pool.clone(), options.max_receipt_batch.max(1));
        Ok(Self { pool, receipts })
    }

    /// A pooled connection.
    async fn client(&self) -> StoreResult<Object> {
        connection(&self.pool).await
    }
}

/// The settings every session of the store starts with.
fn session_options(statement_timeout_ms: u128, synchronous: Synchronous) -> String {
    let mut options = format!("-c statement_timeout={statement_timeout_ms}");
    if synchronous == Synchronous::Normal {
        options.push_str(" -c synchronous_commit=off");
    }
    options
}

async fn connection(pool: &Pool) -> StoreResult<Object> {
    pool.get().await.map_err(|e| match e {
        PoolError::Backend(e) => from_pg(e),
        other => StoreError::Unavailable(format!("no database connection: {other}")),
    })
}

/// The engine's errors at the boundary: a refused statement is a database error; a lost or
/// unreachable server, or a statement cut off by the timeout, is unavailability.
pub(crate) fn from_pg(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(code) if is_outage(code) => StoreError::Unavailable(describe(&e)),
        Some(_) => StoreError::Database(describe(&e)),
        None if e.is_closed() || is_io_failure(&e) => StoreError::Unavailable(describe(&e)),
        None => StoreError::Database(describe(&e)),
    }
}

/// The error with its causes ("error connecting to server" alone does not say why).
fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Codes of a server that is gone, going or not yet there, or of a statement the timeout cut
/// off: the request may succeed later, unlike a refused statement.
fn is_outage(code: &SqlState) -> bool {
    code.code().starts_with("08")
        || [
            SqlState::QUERY_CANCELED,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ]
        .contains(code)
}

fn is_io_failure(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|source| source.is::<std::io::Error>())
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        from_pg(e)
    }
}

/// Whether a transaction failed only because it lost a race another transaction won
/// (deadlock, serialization), so that running it again is right.
pub(crate) fn is_retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| {
        *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_sessions_commit_without_waiting_for_the_flush() {
        assert_eq!(
            session_options(5000, Synchronous::Full),
            "-c statement_timeout=5000"
        );
        assert_eq!(
            session_options(5000, Synchronous::Normal),
            "-c statement_timeout=5000 -c synchronous_commit=off"
        );
    }
}
