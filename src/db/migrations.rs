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

/// Splits `postgres://…/name?params` into (`postgres://…/postgres?params`, `name`).
fn maintenance_url(database_url: &str) -> Option<(String, String)> {
    let (base, params) = match database_url.split_once('?') {
        Some((b, p)) => (b, Some(p)),
        None => (database_url, None),
    };
    let scheme_end = base.find("://")? + 3;
    let slash = scheme_end + base[scheme_end..].find('/')?;
    let name = &base[slash + 1..];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut url = format!("{}/postgres", &base[..slash]);
    if let Some(p) = params {
        url.push('?');
        url.push_str(p);
    }
    Some((url, name.to_owned()))
}

/// Creates the database named in `database_url` when it does not exist yet, so that a first
/// start against a fresh PostgreSQL needs no manual step.
pub async fn ensure_database(database_url: &str) -> anyhow::Result<()> {
    use diesel_async::AsyncConnection;
    match AsyncPgConnection::establish(database_url).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("does not exist") => {
            let (admin_url, name) = maintenance_url(database_url).context(
                "the database does not exist and its name cannot be read from DATABASE_URL",
            )?;
            let mut admin = AsyncPgConnection::establish(&admin_url)
                .await
                .context("the database does not exist, and connecting to create it failed")?;
            diesel_async::RunQueryDsl::execute(
                diesel::sql_query(format!("CREATE DATABASE \"{name}\"")),
                &mut admin,
            )
            .await
            .with_context(|| format!("creating database {name}"))?;
            tracing::info!(database = %name, "created database");
            Ok(())
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot connect to PostgreSQL")),
    }
}

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(database_url: &str) -> anyhow::Result<Vec<String>> {
    ensure_database(database_url).await?;
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

#[cfg(test)]
mod tests {
    use super::maintenance_url;

    #[test]
    fn maintenance_urls() {
        assert_eq!(
            maintenance_url("postgres://u:p@h:5432/ydym"),
            Some(("postgres://u:p@h:5432/postgres".into(), "ydym".into()))
        );
        assert_eq!(
            maintenance_url("postgres://h/ydym_test?options=-c%20x"),
            Some((
                "postgres://h/postgres?options=-c%20x".into(),
                "ydym_test".into()
            ))
        );
        assert_eq!(maintenance_url("postgres://h/"), None);
        assert_eq!(maintenance_url("postgres://h/a;drop"), None);
    }
}
