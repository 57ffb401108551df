//! Throw-away PostgreSQL databases: created empty under a fresh name, dropped when the handle
//! goes. For tests and benchmarks that need a clean database of their own on a shared server.

use tokio_postgres::NoTls;

use crate::postgres::from_pg;
use crate::{StoreError, StoreResult};

/// A database created on the server of an administrator's URL, dropped (forcing out any
/// connection left) when this is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

/// The PostgreSQL server that tests make their scratch databases on: `TIDINGS_TEST_PG`, or the
/// development machine's `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn test_server() -> String {
    std::env::var("TIDINGS_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl ScratchDatabase {
    /// A database on [`test_server`], for a test: panics, naming the variable to set, when the
    /// server cannot be used.
    pub async fn for_test() -> Self {
        let server = test_server();
        Self::create(&server).await.unwrap_or_else(|e| {
            panic!("no PostgreSQL for the tests at {server} (set TIDINGS_TEST_PG): {e}")
        })
    }

    /// The database `TIDINGS_TEST_STORE` asks the service and server tests to run on: none when
    /// it is unset or empty (they use SQLite), else one on the PostgreSQL server it names.
    /// Panics, naming the variable, when that server cannot be used.
    pub async fn for_test_store() -> Option<Self> {
        let server = std::env::var("TIDINGS_TEST_STORE").ok()?;
        if server.is_empty() {
            return None;
        }
        Some(
            Self::create(&server)
                .await
                .unwrap_or_else(|e| panic!("TIDINGS_TEST_STORE={server}: {e}")),
        )
    }

    /// Creates an empty database named `tidings_scratch_<random>` with the rights of
    /// `admin_url` (a URL whose user may create databases).
    pub async fn create(admin_url: &str) -> StoreResult<Self> {
        let name = format!("tidings_scratch_{:016x}", rand::random::<u64>());
        let Some((server, _)) = admin_url.rsplit_once('/') else {
            return Err(StoreError::Unavailable(format!(
                "{admin_url:?} is not a postgres://…/database URL"
            )));
        };
        let url = format!("{server}/{name}");
        let (client, connection) = tokio_postgres::connect(admin_url, NoTls)
            .await
            .map_err(from_pg)?;
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(from_pg)?;
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// The database's own URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime, which cannot block on itself: a thread of its own
        // drops the database.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin_url, NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(database = %self.name, error = %e, "not dropped"),
            Err(_) => {
                tracing::warn!(database = %self.name, "not dropped: the dropping thread panicked")
            }
        }
    }
}
