//! Persistence: the pool, migrations and one module of queries per table family. Functions take
//! `&mut AsyncPgConnection` and return `QueryResult`; they know nothing of HTTP.

pub mod audit;
pub mod calendar;
pub mod complaints;
pub mod evidence;
pub mod merchants;
pub mod migrations;
pub mod objections;
pub mod regions;
pub mod repairs;
pub mod replicas;
pub mod replies;
pub mod schema;
pub mod sessions;
pub mod shop_codes;
pub mod stats;
pub mod users;

use std::time::Duration;

use deadpool::managed::{Metrics, Object, Pool, RecycleError, RecycleResult};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolableConnection};
use diesel_async::AsyncPgConnection;

use crate::config::Settings;

pub type DbPool = Pool<Manager>;
pub type DbConn = Object<Manager>;

/// A connection idle at least this long is checked with a query before it is handed out.
const VERIFY_IDLE_AFTER: Duration = Duration::from_secs(1);

/// diesel-async's deadpool manager, except that a connection is checked with `SELECT 1` before
/// it is handed out only when it has been idle for `VERIFY_IDLE_AFTER`. Under load every
/// checkout otherwise costs a round trip of its own (an uncached scan page needs only one
/// besides, and each round trip waits for the worker to poll it again: at peak that made the
/// staff pool's connections busy long enough to run out). A connection PostgreSQL closed (a restart)
/// is known without a query (`is_broken`: its socket is closed) and is replaced either way; one
/// that went bad silently while in use fails its request, which is answered 503 and dropped.
pub struct Manager {
    inner: AsyncDieselConnectionManager<AsyncPgConnection>,
}

impl deadpool::managed::Manager for Manager {
    type Type = AsyncPgConnection;
    type Error = diesel_async::pooled_connection::PoolError;

    async fn create(&self) -> Result<AsyncPgConnection, Self::Error> {
        self.inner.create().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncPgConnection,
        metrics: &Metrics,
    ) -> RecycleResult<Self::Error> {
        if std::thread::panicking() || conn.is_broken() {
            return Err(RecycleError::Message("broken connection".into()));
        }
        if metrics.last_used() < VERIFY_IDLE_AFTER {
            return Ok(());
        }
        self.inner.recycle(conn, metrics).await
    }
}

/// Builds the pool; connections are opened on demand, so this succeeds while PostgreSQL is down
/// (`/readyz` then says so).
///
/// The service's connections carry a statement timeout (`DATABASE_STATEMENT_TIMEOUT_MS`), and
/// a request waits at most `DATABASE_POOL_TIMEOUT_MS` for a connection: when PostgreSQL is slow
/// (a lock held, a long query) requests answer 503 after a bounded time instead of piling up.
pub fn pool(settings: &Settings) -> anyhow::Result<DbPool> {
    pool_of_size(settings, settings.database_pool_size)
}

/// The scan pages' own pool (a bulkhead): under the peak mix, staff lists and reports that
/// hold connections for a while took every connection of a shared pool and scans waited out
/// the pool timeout (503s at 1,000 connections).
pub fn public_pool(settings: &Settings) -> anyhow::Result<DbPool> {
    pool_of_size(settings, settings.database_public_pool_size)
}

pub(crate) fn pool_of_size(settings: &Settings, size: usize) -> anyhow::Result<DbPool> {
    let url = with_statement_timeout(
        settings.database_url.expose(),
        settings.database_statement_timeout,
    );
    build(&url, size, settings.database_pool_timeout)
}

/// A pool for `database_url` (the CLI's commands, which need nothing else from `Settings`, and
/// no statement timeout: an import of 10^5 rows is one long transaction).
pub fn pool_for(database_url: &str, size: usize) -> anyhow::Result<DbPool> {
    build(database_url, size, Duration::from_secs(5))
}

/// `url` with libpq's `options=-c statement_timeout=…` (added to its `options` if it has
/// some; kept as given when it sets a statement timeout itself).
pub fn with_statement_timeout(url: &str, timeout: Duration) -> String {
    if timeout.is_zero() || url.contains("statement_timeout") {
        return url.to_owned();
    }
    let setting = format!("-c%20statement_timeout%3D{}", timeout.as_millis());
    let Some((base, query)) = url.split_once('?') else {
        return format!("{url}?options={setting}");
    };
    let mut found = false;
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.strip_prefix("options=") {
            Some(v) if !found => {
                found = true;
                format!("options={v}%20{setting}")
            }
            _ => p.to_owned(),
        })
        .collect();
    let mut out = format!("{base}?{}", params.join("&"));
    if !found {
        out.push_str(&format!("&options={setting}"));
    }
    out
}

pub(crate) fn build(database_url: &str, size: usize, wait: Duration) -> anyhow::Result<DbPool> {
    let manager = Manager {
        inner: AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url),
    };
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the database pool: {e}"))
}

/// Prometheus figures of the pool: connections by state, requests waiting for one, and waits
/// that timed out (each answered 503).
pub mod metrics {
    use std::sync::LazyLock;
    use std::time::Duration;

    use prometheus::{IntCounter, IntGaugeVec, Opts};

    use super::DbPool;

    pub static POOL: LazyLock<IntGaugeVec> = LazyLock::new(|| {
        IntGaugeVec::new(
            Opts::new(
                "yidianyima_db_pool",
                "PostgreSQL pool: max, open, idle connections and requests waiting for one",
            ),
            &["state"],
        )
        .expect("valid metric")
    });

    pub static TIMEOUTS: LazyLock<IntCounter> = LazyLock::new(|| {
        IntCounter::new(
            "yidianyima_db_pool_timeouts_total",
            "requests that found no PostgreSQL connection in time (answered 503)",
        )
        .expect("valid metric")
    });

    /// Samples the pool every second while it exists.
    pub fn spawn_sampler(pool: DbPool) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let s = pool.status();
                let set = |state: &str, v: usize| {
                    POOL.with_label_values(&[state])
                        .set(i64::try_from(v).unwrap_or(i64::MAX));
                };
                set("max", s.max_size);
                set("open", s.size);
                set("idle", s.available);
                set("waiting", s.waiting);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_timeout_rides_in_the_url() {
        let t = Duration::from_millis(2500);
        assert_eq!(
            with_statement_timeout("postgres://h/db", t),
            "postgres://h/db?options=-c%20statement_timeout%3D2500"
        );
        assert_eq!(
            with_statement_timeout("postgres://h/db?sslmode=disable", t),
            "postgres://h/db?sslmode=disable&options=-c%20statement_timeout%3D2500"
        );
        assert_eq!(
            with_statement_timeout("postgres://h/db?options=-c%20search_path%3Dx&a=b", t),
            "postgres://h/db?options=-c%20search_path%3Dx%20-c%20statement_timeout%3D2500&a=b"
        );
        assert_eq!(
            with_statement_timeout("postgres://h/db", Duration::ZERO),
            "postgres://h/db"
        );
    }
}
