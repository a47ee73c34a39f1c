//! Embedded migrations, run through diesel's synchronous harness on a blocking thread (the async
//! harness needs `block_in_place`; this works under any runtime). A PostgreSQL advisory lock
//! keeps two starting instances from migrating at once.

use anyhow::Context;
use diesel::{Connection, RunQueryDsl};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Arbitrary but fixed key of the migration advisory lock.
const LOCK_KEY: i64 = 0x7964_6d79_6d67; // "ydmymg"

type SyncConn = AsyncConnectionWrapper<AsyncPgConnection>;

async fn with_locked_connection<T, F>(database_url: &str, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut SyncConn) -> anyhow::Result<T> + Send + 'static,
{
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = SyncConn::establish(&url).context("cannot connect to PostgreSQL")?;
        diesel::sql_query(format!("SELECT pg_advisory_lock({LOCK_KEY})"))
            .execute(&mut conn)
            .context("taking the migration lock")?;
        let result = f(&mut conn);
        let _ =
            diesel::sql_query(format!("SELECT pg_advisory_unlock({LOCK_KEY})")).execute(&mut conn);
        result
    })
    .await
    .context("migration task panicked")?
}

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(database_url: &str) -> anyhow::Result<Vec<String>> {
    with_locked_connection(database_url, |conn| {
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    })
    .await
}

/// Reverts every applied migration (newest first); returns the versions reverted.
pub async fn revert_all(database_url: &str) -> anyhow::Result<Vec<String>> {
    with_locked_connection(database_url, |conn| {
        let reverted = conn
            .revert_all_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("reverting migrations failed: {e}"))?;
        Ok(reverted.iter().map(|v| v.to_string()).collect())
    })
    .await
}
