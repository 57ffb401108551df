//! The engines a conformance test runs against: SQLite in a temporary directory, and PostgreSQL
//! in a scratch database of its own, created for the test and dropped after it.

use std::sync::Arc;

use tidings_store::scratch::ScratchDatabase;
use tidings_store::{OpenedStore, StorageStats, Store, StoreConfig, StoreUrl, open_store};

/// A store under test and where its data lives, so that it can be opened again.
pub(crate) struct TestEngine {
    opened: Option<OpenedStore>,
    location: Location,
}

enum Location {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchDatabase),
}

impl TestEngine {
    /// A fresh, empty SQLite store.
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut engine = Self {
            opened: None,
            location: Location::Sqlite(dir),
        };
        engine.opened = Some(engine.open().await);
        engine
    }

    /// A fresh, empty PostgreSQL store in a database of its own.
    pub(crate) async fn postgres() -> Self {
        let mut engine = Self {
            opened: None,
            location: Location::Postgres(ScratchDatabase::for_test().await),
        };
        engine.opened = Some(engine.open().await);
        engine
    }

    /// The store, through the domain boundary.
    pub(crate) fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.opened.as_ref().expect("store open").store)
    }

    /// The store's measurements.
    pub(crate) fn stats(&self) -> Arc<dyn StorageStats> {
        Arc::clone(&self.opened.as_ref().expect("store open").stats)
    }

    /// Another store on the same data, as a second node (PostgreSQL) or a second handle would
    /// open it; the first stays open.
    pub(crate) async fn open_another(&self) -> Arc<dyn Store> {
        self.open().await.store
    }

    /// Closes the store and opens it again on the same data, as a restart would.
    pub(crate) async fn reopen(&mut self) {
        self.opened = None;
        // The SQLite writer thread and the PostgreSQL batcher stop once their handles are gone;
        // a moment lets them finish before the file or database is opened again.
        tokio::task::yield_now().await;
        self.opened = Some(self.open().await);
    }

    /// The configuration that opens this engine's data.
    pub(crate) fn config(&self) -> StoreConfig {
        let mut config = StoreConfig::new(match &self.location {
            Location::Sqlite(dir) => StoreUrl::Sqlite(dir.path().join("tidings.db")),
            Location::Postgres(db) => StoreUrl::Postgres(db.url().to_owned()),
        });
        // Tests run side by side, some with several stores each, within the server's
        // connection limit (100 by default).
        config.pool_size = 6;
        config
    }

    async fn open(&self) -> OpenedStore {
        open_store(&self.config()).await.expect("store opens")
    }
}
