//! Scan counting without a database write per scan: each instance counts in memory and adds
//! its counts to PostgreSQL in one statement every few seconds and at shutdown.
//!
//! Why not a Redis INCR per scan: a Redis round trip costs about what serving the whole cached
//! page costs (measured on the 2-core development machine: both are a loopback round trip), so it would halve the hot path's
//! throughput for a number nobody needs to the second. What can be lost is the last flush
//! interval of one instance that crashes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use diesel::upsert::excluded;
use diesel::ExpressionMethods;
use diesel_async::RunQueryDsl;

use crate::db::schema::scan_counts;
use crate::db::DbPool;

pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

type Pending = HashMap<NaiveDate, HashMap<String, i64>>;

/// Shards of the pending counts: each HTTP worker thread takes one, so workers counting at
/// 100k scans/s do not contend on one lock (contention put every worker to sleep on a futex).
const SHARDS: usize = 16;

pub struct ScanCounter {
    /// day → code → scans per shard; looked up by `&str`, so a repeat scan allocates nothing.
    pending: [Mutex<Pending>; SHARDS],
    /// One flush at a time in this process.
    flushing: tokio::sync::Mutex<()>,
}

impl Default for ScanCounter {
    fn default() -> Self {
        Self {
            pending: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            flushing: tokio::sync::Mutex::new(()),
        }
    }
}

/// This thread's shard: assigned round-robin on first use.
fn shard() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

static SCANS: std::sync::LazyLock<prometheus::IntCounter> = std::sync::LazyLock::new(|| {
    prometheus::IntCounter::new("yidianyima_scans_total", "shop-page scans served")
        .expect("valid metric")
});

pub fn metric() -> prometheus::IntCounter {
    SCANS.clone()
}

impl ScanCounter {
    pub fn record(&self, code: &str, day: NaiveDate) {
        SCANS.inc();
        let mut p = self.pending[shard()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let codes = p.entry(day).or_default();
        match codes.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                codes.insert(code.to_owned(), 1);
            }
        }
    }

    fn put_back(&self, batch: Vec<((String, NaiveDate), i64)>) {
        let mut p = self.pending[shard()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for ((code, day), n) in batch {
            *p.entry(day).or_default().entry(code).or_insert(0) += n;
        }
    }

    /// [`Self::flush`] unless one is running already (`Ok(0)` then).
    pub async fn flush_unless_running(&self, pool: &DbPool) -> anyhow::Result<usize> {
        match self.flushing.try_lock() {
            Ok(guard) => self.flush_locked(pool, guard).await,
            Err(_) => Ok(0),
        }
    }

    /// Adds the pending counts to PostgreSQL; on failure they are kept for the next try.
    pub async fn flush(&self, pool: &DbPool) -> anyhow::Result<usize> {
        let guard = self.flushing.lock().await;
        self.flush_locked(pool, guard).await
    }

    async fn flush_locked(
        &self,
        pool: &DbPool,
        _one_at_a_time: tokio::sync::MutexGuard<'_, ()>,
    ) -> anyhow::Result<usize> {
        // One row per (code, day) across the shards: one upsert cannot touch a row twice.
        let mut merged: HashMap<(String, NaiveDate), i64> = HashMap::new();
        for shard in &self.pending {
            let drained: Pending =
                std::mem::take(&mut *shard.lock().unwrap_or_else(|e| e.into_inner()));
            for (day, codes) in drained {
                for (code, n) in codes {
                    *merged.entry((code, day)).or_insert(0) += n;
                }
            }
        }
        // Rows in one order (code, day) in every flush of every instance: two upserts at once
        // then lock their rows in the same order and cannot deadlock (in hash order they did,
        // under load: "deadlock detected", and the counts went back for the next try).
        let mut batch: Vec<((String, NaiveDate), i64)> = merged.into_iter().collect();
        batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if batch.is_empty() {
            return Ok(0);
        }
        let rows: Vec<_> = batch
            .iter()
            .map(|((code, day), n)| {
                (
                    scan_counts::code.eq(code.as_str()),
                    scan_counts::day.eq(*day),
                    scan_counts::count.eq(*n),
                )
            })
            .collect();
        let result = async {
            let mut conn = pool.get().await?;
            diesel::insert_into(scan_counts::table)
                .values(&rows)
                .on_conflict((scan_counts::code, scan_counts::day))
                .do_update()
                .set(scan_counts::count.eq(scan_counts::count + excluded(scan_counts::count)))
                .execute(&mut conn)
                .await?;
            anyhow::Ok(())
        }
        .await;
        match result {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                self.put_back(batch);
                Err(e)
            }
        }
    }

    /// Flushes every `FLUSH_EVERY` until the counter is dropped.
    pub fn spawn_flusher(self: &Arc<Self>, pool: DbPool) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(counter) = me.upgrade() else { return };
                if let Err(e) = counter.flush(&pool).await {
                    tracing::warn!(error = %e, "scan counts not flushed; kept for the next try");
                }
            }
        });
    }
}
