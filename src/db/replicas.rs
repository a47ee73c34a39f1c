//! Public reads on PostgreSQL streaming replicas (`DATABASE_REPLICA_URLS`).
//!
//! Scan-page renders, their JSON and statistics may be a moment behind, so they read a
//! replica when one is good enough; writes and staff reads stay on the primary. Good enough
//! means two things, both in WAL positions (LSNs):
//! - **within the lag bound**: the replica has replayed at least what the primary had written
//!   `DATABASE_REPLICA_MAX_LAG_MS` ago (a monitor samples the primary's position and each
//!   replica's `pg_last_wal_replay_lsn()` every 200 ms); a replica that is down or further
//!   behind is skipped;
//! - **read-your-writes**: a write records the position it reached with the page invalidation
//!   it sends (`cache::pages`), and a render of that page asks for a replica that has replayed
//!   it (`ReadFloor`); if none has, the render reads the primary.
//!
//! Without replicas every read goes to the primary's public pool, as before.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use diesel::sql_types::{Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use prometheus::{IntCounterVec, IntGaugeVec, Opts};

use super::{DbConn, DbPool};
use crate::cache::pages::ReadFloor;
use crate::config::Settings;
use crate::error::AppError;

/// How often the monitor samples positions.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// Longest the monitor waits for a server (a replica that hangs is then down).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// `16/B374D848` → its 64-bit position.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= u64::from(u32::MAX) && lo <= u64::from(u32::MAX)).then_some((hi << 32) | lo)
}

/// Where a read went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Primary,
    Replica(usize),
}

struct Replica {
    /// `host:port/db`, for logs and metrics (never the password).
    name: String,
    url: String,
    pool: DbPool,
    /// The last position it was seen to have replayed.
    replayed: AtomicU64,
    up: AtomicBool,
}

pub struct PublicReads {
    primary: DbPool,
    replicas: Vec<Replica>,
    max_lag: Duration,
    next: AtomicUsize,
    /// The primary's positions as sampled, oldest first (the lag bound is read from it).
    history: Mutex<VecDeque<(Instant, u64)>>,
}

/// `host:port/db` of a PostgreSQL URL.
fn display_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('?').next().unwrap_or(rest).to_owned()
}

impl PublicReads {
    /// `primary`: the scan pages' pool on the primary. Each replica gets a pool of the same
    /// size and the same timeouts.
    pub fn new(settings: &Settings, primary: DbPool) -> anyhow::Result<Self> {
        let replicas = settings
            .database_replica_urls
            .iter()
            .map(|url| {
                let url = super::with_statement_timeout(
                    url.expose(),
                    settings.database_statement_timeout,
                );
                Ok(Replica {
                    name: display_name(&url),
                    pool: super::build(
                        &url,
                        settings.database_public_pool_size,
                        settings.database_pool_timeout,
                    )?,
                    url,
                    replayed: AtomicU64::new(0),
                    up: AtomicBool::new(false),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            primary,
            replicas,
            max_lag: settings.database_replica_max_lag,
            next: AtomicUsize::new(0),
            history: Mutex::new(VecDeque::new()),
        })
    }

    pub fn has_replicas(&self) -> bool {
        !self.replicas.is_empty()
    }

    /// The position every usable replica has replayed: the primary's `max_lag` ago (the
    /// oldest sample while there is none that old; `None` before the first sample).
    fn bound(&self) -> Option<u64> {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let cutoff = Instant::now().checked_sub(self.max_lag)?;
        history
            .iter()
            .rev()
            .find(|(t, _)| *t <= cutoff)
            .or(history.front())
            .map(|(_, lsn)| *lsn)
    }

    /// A connection for a public read that must see `floor`: a replica that has replayed it
    /// and is within the lag bound (in turn), else the primary's public pool.
    pub async fn conn(&self, floor: ReadFloor) -> Result<(DbConn, Target), AppError> {
        if let Some(found) = self.replica_conn(floor).await {
            return Ok(found);
        }
        let c = self.primary.get().await?;
        READS.with_label_values(&["primary"]).inc();
        Ok((c, Target::Primary))
    }

    /// A replica's connection for a read that must see `floor`, if one is good enough.
    pub async fn replica_conn(&self, floor: ReadFloor) -> Option<(DbConn, Target)> {
        let min = floor?;
        if self.replicas.is_empty() {
            return None;
        }
        let need = min.max(self.bound()?);
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let at = (start + i) % n;
            let r = &self.replicas[at];
            if !AtomicBool::load(&r.up, Ordering::SeqCst)
                || AtomicU64::load(&r.replayed, Ordering::SeqCst) < need
            {
                continue;
            }
            match r.pool.get().await {
                Ok(c) => {
                    READS.with_label_values(&["replica"]).inc();
                    return Some((c, Target::Replica(at)));
                }
                Err(e) => {
                    tracing::warn!(replica = %r.name, error = %e, "replica unavailable");
                    self.failed(Target::Replica(at));
                }
            }
        }
        None
    }

    /// `replica_conn`, waiting up to `max_wait` for a replica to replay `floor` (the monitor
    /// sees replay progress every 200 ms): for a heavy read that must see everything committed
    /// before it began, waiting a moment for a replica beats loading the primary.
    pub async fn replica_conn_within(
        &self,
        floor: u64,
        max_wait: Duration,
    ) -> Option<(DbConn, Target)> {
        let until = Instant::now() + max_wait;
        loop {
            if let Some(found) = self.replica_conn(Some(floor)).await {
                return Some(found);
            }
            let any_up = self
                .replicas
                .iter()
                .any(|r| AtomicBool::load(&r.up, Ordering::SeqCst));
            if !any_up || Instant::now() + SAMPLE_EVERY / 2 > until {
                return None;
            }
            tokio::time::sleep(SAMPLE_EVERY / 2).await;
        }
    }

    /// A read on `target` failed: a replica is not used again until the monitor sees it
    /// answer (the caller retries on the primary).
    pub fn failed(&self, target: Target) {
        if let Target::Replica(i) = target {
            if let Some(r) = self.replicas.get(i) {
                r.up.store(false, Ordering::SeqCst);
            }
        }
    }

    /// Samples the primary's and every replica's position every 200 ms while `self` lives,
    /// on connections of its own (a busy pool does not blind it).
    pub fn spawn_monitor(self: &Arc<Self>, primary_url: String) {
        if self.replicas.is_empty() {
            return;
        }
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut primary: Option<AsyncPgConnection> = None;
            let mut replicas: Vec<Option<AsyncPgConnection>> = Vec::new();
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(reads) = me.upgrade() else { return };
                replicas.resize_with(reads.replicas.len(), || None);
                let sampled_at = Instant::now();
                let head = position(&mut primary, &primary_url, "pg_current_wal_lsn()").await;
                if let Some(lsn) = head {
                    let mut h = reads.history.lock().unwrap_or_else(|e| e.into_inner());
                    h.push_back((sampled_at, lsn));
                    // Keep one sample older than the bound, and not much more.
                    let cutoff = sampled_at.checked_sub(reads.max_lag);
                    while h.len() > 2 && cutoff.is_some_and(|c| h[1].0 <= c) {
                        h.pop_front();
                    }
                }
                let head = head.or_else(|| {
                    let h = reads.history.lock().unwrap_or_else(|e| e.into_inner());
                    h.back().map(|(_, l)| *l)
                });
                for (r, conn) in reads.replicas.iter().zip(replicas.iter_mut()) {
                    // A server that is not in recovery (a replica URL naming a primary) has
                    // everything it wrote.
                    let got = position(
                        conn,
                        &r.url,
                        "COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn())",
                    )
                    .await;
                    let was_up = AtomicBool::load(&r.up, Ordering::SeqCst);
                    match got {
                        Some(lsn) => {
                            r.replayed.fetch_max(lsn, Ordering::SeqCst);
                            r.up.store(true, Ordering::SeqCst);
                            if !was_up {
                                tracing::info!(replica = %r.name, "replica in use");
                            }
                        }
                        None => {
                            r.up.store(false, Ordering::SeqCst);
                            if was_up {
                                tracing::warn!(replica = %r.name, "replica down: reading the primary");
                            }
                        }
                    }
                    let replayed = AtomicU64::load(&r.replayed, Ordering::SeqCst);
                    let lag = head.map_or(0, |h| h.saturating_sub(replayed));
                    LAG.with_label_values(&[&r.name])
                        .set(i64::try_from(lag).unwrap_or(i64::MAX));
                    UP.with_label_values(&[&r.name])
                        .set(i64::from(AtomicBool::load(&r.up, Ordering::SeqCst)));
                }
            }
        });
    }

    /// Each replica: its name, whether it is in use, and how far behind the primary it is
    /// (bytes), for `/readyz`.
    pub fn status(&self) -> Vec<(String, bool, u64)> {
        let head = {
            let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
            h.back().map_or(0, |(_, l)| *l)
        };
        self.replicas
            .iter()
            .map(|r| {
                let replayed = AtomicU64::load(&r.replayed, Ordering::SeqCst);
                (
                    r.name.clone(),
                    AtomicBool::load(&r.up, Ordering::SeqCst),
                    head.saturating_sub(replayed),
                )
            })
            .collect()
    }
}

/// One position from `sql` on a connection kept across samples (opened, or opened again
/// after a failure); `None` when the server does not answer in time.
async fn position(conn: &mut Option<AsyncPgConnection>, url: &str, sql: &str) -> Option<u64> {
    if conn.is_none() {
        match tokio::time::timeout(PROBE_TIMEOUT, AsyncPgConnection::establish(url)).await {
            Ok(Ok(c)) => *conn = Some(c),
            _ => return None,
        }
    }
    let c = conn.as_mut()?;
    let query = diesel::select(diesel::dsl::sql::<Nullable<Text>>(&format!(
        "({sql})::text"
    )))
    .get_result::<Option<String>>(c);
    match tokio::time::timeout(PROBE_TIMEOUT, query).await {
        Ok(Ok(Some(text))) => parse_lsn(&text),
        _ => {
            *conn = None;
            None
        }
    }
}

/// Public reads by where they went.
pub static READS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "yidianyima_public_reads_total",
            "public reads (scan-page renders, public JSON, statistics) by target: primary or replica",
        ),
        &["target"],
    )
    .expect("valid metric")
});

/// How far each replica is behind the primary.
pub static LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    IntGaugeVec::new(
        Opts::new(
            "yidianyima_replica_lag_bytes",
            "WAL bytes the primary has written that the replica has not replayed",
        ),
        &["replica"],
    )
    .expect("valid metric")
});

/// Whether each replica is in use.
pub static UP: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    IntGaugeVec::new(
        Opts::new(
            "yidianyima_replica_up",
            "1 while the replica answers the monitor, 0 while reads skip it",
        ),
        &["replica"],
    )
    .expect("valid metric")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_as_postgres_prints_them() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("16/B374D848").unwrap() > parse_lsn("16/B374D847").unwrap());
        assert!(parse_lsn("17/0").unwrap() > parse_lsn("16/FFFFFFFF").unwrap());
        assert_eq!(parse_lsn("nonsense"), None);
        assert_eq!(parse_lsn("1/"), None);
    }

    #[test]
    fn names_never_carry_the_password() {
        assert_eq!(
            display_name("postgres://app:s3cret@db-r1:5432/yidianyima?sslmode=require"),
            "db-r1:5432/yidianyima"
        );
        assert_eq!(
            display_name("postgres://127.0.0.1:5433/x"),
            "127.0.0.1:5433/x"
        );
    }
}
