//! Choosing and opening an engine from the configuration: the one place that names them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    PgOptions, PgStore, SqliteOptions, SqliteStore, StorageStats, Store, StoreError, StoreResult,
    Synchronous,
};

/// Which engine, and where its data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded engine, in this database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`postgres://…` or `postgresql://…`).
    Postgres(String),
}

impl StoreUrl {
    /// Reads `--store`: absent means SQLite in `data_dir`; `sqlite:PATH` a SQLite file;
    /// `postgres://…` or `postgresql://…` a PostgreSQL database.
    pub fn parse(url: Option<&str>, data_dir: &std::path::Path) -> Result<Self, String> {
        match url.map(str::trim) {
            None | Some("") => Ok(Self::Sqlite(data_dir.join("tidings.db"))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(url.to_owned()))
            }
            Some(url) => match url.strip_prefix("sqlite:") {
                Some(path) if !path.is_empty() => Ok(Self::Sqlite(PathBuf::from(path))),
                _ => Err(format!(
                    "store URL {url:?} is neither sqlite:PATH nor postgres://… (postgresql://…)"
                )),
            },
        }
    }

    /// Whether several nodes can share this store.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Where the data is, as an operator may be shown it: the password of a URL is hidden.
impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// Everything needed to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The engine and its location.
    pub url: StoreUrl,
    /// How hard each commit syncs: SQLite's WAL sync, PostgreSQL's `synchronous_commit`.
    pub synchronous: Synchronous,
    /// PostgreSQL: most connections.
    pub pool_size: usize,
    /// PostgreSQL: longest a statement runs or a call waits for a connection.
    pub statement_timeout: Duration,
}

impl StoreConfig {
    /// Defaults for an engine.
    pub fn new(url: StoreUrl) -> Self {
        let defaults = PgOptions::new("");
        Self {
            url,
            synchronous: Synchronous::Full,
            pool_size: defaults.pool_size,
            statement_timeout: defaults.statement_timeout,
        }
    }
}

/// An opened engine, seen through the domain boundary and its measurements.
#[derive(Clone)]
pub struct OpenedStore {
    /// The domain boundary.
    pub store: Arc<dyn Store>,
    /// Storage measurements.
    pub stats: Arc<dyn StorageStats>,
}

impl std::fmt::Debug for OpenedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.stats.fmt(f)
    }
}

impl OpenedStore {
    fn of<E: Store + StorageStats>(engine: E) -> Self {
        let engine = Arc::new(engine);
        Self {
            stats: engine.clone(),
            store: engine,
        }
    }
}

/// Opens the configured engine (creating or migrating its schema).
pub async fn open_store(config: &StoreConfig) -> StoreResult<OpenedStore> {
    match &config.url {
        StoreUrl::Sqlite(path) => {
            let mut options = SqliteOptions::new(path);
            options.synchronous = config.synchronous;
            Ok(OpenedStore::of(SqliteStore::open(options)?))
        }
        StoreUrl::Postgres(url) => {
            let mut options = PgOptions::new(url);
            options.pool_size = config.pool_size;
            options.statement_timeout = config.statement_timeout;
            options.synchronous = config.synchronous;
            Ok(OpenedStore::of(PgStore::open(options).await.map_err(
                |e| match e {
                    StoreError::Unavailable(reason) => StoreError::Unavailable(format!(
                        "cannot reach PostgreSQL at {}: {reason}",
                        redact(url)
                    )),
                    other => other,
                },
            )?))
        }
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
