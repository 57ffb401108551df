//! Queries through statements prepared once per pooled connection and then reused.
//!
//! A query given as text costs two round trips to the server (parse and describe, then bind and
//! execute); through a statement the connection already prepared it costs one. The engine's SQL
//! is a fixed set of texts, so each connection's cache (deadpool's) stays small.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// The statement calls the engine makes, each through the connection's prepared statement.
#[async_trait]
pub(crate) trait CachedQueries: Sync {
    /// Rows of a query.
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>;
    /// The one row of a query.
    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>;
    /// At most one row of a query.
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error>;
    /// Rows changed by a statement.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>;
}

#[async_trait]
impl<C: GenericClient> CachedQueries for C {
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::query(self, &statement, params).await
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::query_one(self, &statement, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::query_opt(self, &statement, params).await
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::execute(self, &statement, params).await
    }
}
