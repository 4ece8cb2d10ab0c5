//! The PostgreSQL backend: for several workers, or an operator's existing (managed, HA) database.
//!
//! Same statements as SQLite (see `sql.rs`). Migrations take a transaction-scoped advisory lock,
//! so workers starting together do not race; every write method is one transaction.

use crate::error::{Result, StoreError};
use crate::migrate::Migration;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use std::str::FromStr;
use std::time::Duration;

#[allow(
    clippy::duplicate_mod,
    reason = "the same SQL serves both backends: sql.rs is compiled once per backend"
)]
#[path = "sql.rs"]
mod sql;

type Db = sqlx::Postgres;
type Store = PostgresStore;

/// Row locks and the default isolation (read committed) are enough: writes are upserts or
/// guarded updates.
const BEGIN_WRITE: &str = "BEGIN";
/// Serialises concurrent migrations (released at commit). The key is b"psync" as a big-endian integer.
const LOCK_MIGRATIONS: Option<&str> = Some("SELECT pg_advisory_xact_lock(482973675107)");
/// Serialises saves of the same source's snapshot (two workers would both write version n+1).
const LOCK_SOURCE: Option<&str> =
    Some("SELECT pg_advisory_xact_lock(hashtext('psync snapshot ' || $1))");
/// Connections per process.
const MAX_CONNECTIONS: u32 = 5;
/// How long a call waits for a free (or new) connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

static MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial schema",
    sql: include_str!("../migrations/postgres/0001_initial.sql"),
}];

/// The state in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`) and applies pending
    /// migrations in the user's default schema (`search_path`).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(parse(url)?).await
    }

    /// Like [`PostgresStore::connect`], but keeps every table in `schema` (created if missing):
    /// one database can then hold several independent stores (test runs, tenants).
    ///
    /// `schema` is a lower-case SQL identifier: `a`–`z`, `0`–`9`, `_`, not starting with a digit.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(StoreError::InvalidPostgres {
                reason: format!(
                    "schema name `{schema}`: use lower-case letters, digits and `_`, \
                     at most 63, not starting with a digit"
                ),
            });
        }
        let options = parse(url)?;
        let mut conn = first_connection(&options).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut conn)
        .await
        .map_err(crate::error::db("creating the schema"))?;
        conn.close()
            .await
            .map_err(crate::error::db("creating the schema"))?;
        Self::connect_with(options.options([("search_path", schema)])).await
    }

    async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        // One plain connection first: the pool would retry a refused connection until its
        // timeout and then report only the timeout, not the cause.
        first_connection(&options)
            .await?
            .close()
            .await
            .map_err(crate::error::db("closing the first connection"))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|source| StoreError::ConnectPostgres {
                server: server(&options),
                source,
            })?;
        sql::migrate(&pool).await?;
        Ok(PostgresStore { pool })
    }

    /// Closes every connection, waiting for running statements.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn parse(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidPostgres {
        reason: format!("cannot parse the URL {}: {e}", redact_url(url)),
    })
}

async fn first_connection(options: &PgConnectOptions) -> Result<PgConnection> {
    PgConnection::connect_with(options)
        .await
        .map_err(|source| StoreError::ConnectPostgres {
            server: server(options),
            source,
        })
}

/// `user@host:port/database`: where we tried to connect, without the password.
fn server(options: &PgConnectOptions) -> String {
    let user = options.get_username();
    format!(
        "{user}@{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(user)
    )
}

/// The URL with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://sync:s3cret@db:5432/state"),
            "postgres://sync:***@db:5432/state"
        );
        assert_eq!(
            redact_url("postgres://sync@db/state"),
            "postgres://sync@db/state"
        );
        assert_eq!(redact_url("mysql://a:b@c/d"), "mysql://a:***@c/d");
    }
}
