//! A Redis connection that never makes a request wait long: commands have a short timeout, and
//! after a failure Redis is skipped for a moment (callers fall back to in-process state) instead
//! of every request paying for a dead connection.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::Secret;

/// How long one Redis command may take before the caller falls back.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(300);
/// How long Redis is skipped after a failure.
const BACKOFF: Duration = Duration::from_secs(2);

pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    manager: tokio::sync::RwLock<Option<ConnectionManager>>,
    connecting: tokio::sync::Mutex<()>,
    down_until: Mutex<Option<Instant>>,
    /// Set when a command fails, taken by the first caller after Redis answers again.
    was_down: std::sync::atomic::AtomicBool,
}

impl RedisStore {
    /// Parses the URL; connects lazily, so the service starts even while Redis is down.
    pub fn new(url: &Secret, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose())
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a valid Redis URL: {e}"))?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            manager: tokio::sync::RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            down_until: Mutex::new(None),
            was_down: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The full key for `key`, under this deployment's prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// For a dedicated connection (pub/sub), which the shared manager cannot carry.
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    fn in_backoff(&self) -> bool {
        let guard = self.down_until.lock().unwrap_or_else(|e| e.into_inner());
        guard.is_some_and(|t| Instant::now() < t)
    }

    /// `true` once after an outage, when Redis answers again (the caller repairs what the
    /// outage may have left stale).
    pub fn take_recovered(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.was_down.load(Ordering::Relaxed)
            && !self.in_backoff()
            && self.was_down.swap(false, Ordering::SeqCst)
    }

    fn mark_down(&self, why: &str) {
        self.was_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut guard = self.down_until.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none_or(|t| Instant::now() >= t) {
            tracing::warn!(reason = why, "redis unavailable; using in-process fallback");
        }
        *guard = Some(Instant::now() + BACKOFF);
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if self.in_backoff() {
            return None;
        }
        if let Some(m) = self.manager.read().await.as_ref() {
            return Some(m.clone());
        }
        // One task connects; the others fall back meanwhile rather than queue up.
        let _guard = self.connecting.try_lock().ok()?;
        if let Some(m) = self.manager.read().await.as_ref() {
            return Some(m.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let attempt = tokio::time::timeout(
            Duration::from_secs(1),
            self.client.get_connection_manager_with_config(config),
        )
        .await;
        match attempt {
            Ok(Ok(m)) => {
                *self.manager.write().await = Some(m.clone());
                Some(m)
            }
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                None
            }
            Err(_) => {
                self.mark_down("connect timed out");
                None
            }
        }
    }

    /// Runs a command; `None` when Redis is unavailable (the caller falls back).
    pub async fn run<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(COMMAND_TIMEOUT, f(conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                None
            }
            Err(_) => {
                self.mark_down("command timed out");
                None
            }
        }
    }

    /// Round-trip time of a PING, for `/readyz`; bypasses the backoff so readiness is current.
    pub async fn ping(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let conn = self.manager.read().await.clone();
        let conn = match conn {
            Some(c) => c,
            None => {
                // clear the backoff so that a recovered Redis is noticed here
                *self.down_until.lock().unwrap_or_else(|e| e.into_inner()) = None;
                self.connection().await.ok_or("cannot connect")?
            }
        };
        let mut conn = conn;
        match tokio::time::timeout(
            COMMAND_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        {
            Ok(Ok(_)) => Ok(started.elapsed()),
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                Err(e.to_string())
            }
            Err(_) => {
                self.mark_down("ping timed out");
                Err("timed out".to_owned())
            }
        }
    }
}
