//! A Redis connection that never makes a request wait long: commands have a short timeout, and
//! after a failure Redis is skipped for a moment (callers fall back to in-process state) instead
//! of every request paying for a dead connection.
//!
//! One Redis or a Redis Cluster (`REDIS_CLUSTER_NODES`): callers get a [`Conn`] either way.
//! On a cluster, keys used together in one command or transaction share a `{…}` hash tag
//! (a page and its generation: `{code}`), and the few operations that span unrelated keys
//! ask [`RedisStore::is_cluster`] and send one command per key instead of one transaction.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::config::Secret;

/// How long one Redis command may take before the caller falls back.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(300);
/// How long Redis is skipped after a failure.
const BACKOFF: Duration = Duration::from_secs(2);

/// A connection to one Redis or to a Redis Cluster; cheap to clone (both multiplex).
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

enum Backend {
    Single(redis::Client),
    /// The cluster client, and a plain client per configured node for pub/sub (a message
    /// published on any node of a cluster reaches subscribers on every node).
    Cluster {
        client: Box<ClusterClient>,
        nodes: Vec<redis::Client>,
    },
}

pub struct RedisStore {
    backend: Backend,
    prefix: String,
    manager: tokio::sync::RwLock<Option<Conn>>,
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
        Ok(Self::with_backend(Backend::Single(client), prefix))
    }

    /// A Redis Cluster from some of its nodes (`host:port` or `redis://host:port`); connects
    /// lazily, as `new`.
    pub fn cluster(nodes: &[String], prefix: &str) -> anyhow::Result<Self> {
        let urls: Vec<String> = nodes
            .iter()
            .map(|n| {
                if n.contains("://") {
                    n.clone()
                } else {
                    format!("redis://{n}")
                }
            })
            .collect();
        let clients = urls
            .iter()
            .map(|u| {
                redis::Client::open(u.as_str()).map_err(|e| {
                    anyhow::anyhow!("REDIS_CLUSTER_NODES: {u:?} is not a Redis address: {e}")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if clients.is_empty() {
            anyhow::bail!("REDIS_CLUSTER_NODES names no node");
        }
        let client = ClusterClientBuilder::new(urls)
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(COMMAND_TIMEOUT)
            .retries(1)
            .build()
            .map_err(|e| anyhow::anyhow!("REDIS_CLUSTER_NODES: {e}"))?;
        Ok(Self::with_backend(
            Backend::Cluster {
                client: Box::new(client),
                nodes: clients,
            },
            prefix,
        ))
    }

    /// From the settings: the cluster when `REDIS_CLUSTER_NODES` is set, else `REDIS_URL`,
    /// else none.
    pub fn from_settings(settings: &crate::config::Settings) -> anyhow::Result<Option<Self>> {
        if !settings.redis_cluster_nodes.is_empty() {
            return Self::cluster(&settings.redis_cluster_nodes, &settings.redis_prefix).map(Some);
        }
        settings
            .redis_url
            .as_ref()
            .map(|url| Self::new(url, &settings.redis_prefix))
            .transpose()
    }

    fn with_backend(backend: Backend, prefix: &str) -> Self {
        Self {
            backend,
            prefix: prefix.to_owned(),
            manager: tokio::sync::RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            down_until: Mutex::new(None),
            was_down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The full key for `key`, under this deployment's prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `true` on a Redis Cluster: commands may not span hash slots.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster { .. })
    }

    /// For a dedicated connection subscribed to `channel` (pub/sub), which the shared
    /// connection cannot carry. On a cluster, the node that owns `channel`'s hash slot: a
    /// `PUBLISH` is sent there (the cluster client routes it by the channel), and a subscriber
    /// on that node gets the message before the publisher gets its reply, as on one Redis
    /// (another node would get it later, over the cluster bus, and an instance could serve
    /// a page its message has not yet invalidated). `attempt` picks the node asked first.
    pub async fn pubsub_client(&self, channel: &str, attempt: usize) -> Option<redis::Client> {
        let nodes = match &self.backend {
            Backend::Single(c) => return Some(c.clone()),
            Backend::Cluster { nodes, .. } => nodes,
        };
        for i in 0..nodes.len() {
            let node = &nodes[(attempt + i) % nodes.len()];
            let owner = tokio::time::timeout(Duration::from_secs(1), async {
                let mut c = node.get_multiplexed_async_connection().await.ok()?;
                let slot: i64 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(channel)
                    .query_async(&mut c)
                    .await
                    .ok()?;
                let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
                    .arg("SLOTS")
                    .query_async(&mut c)
                    .await
                    .ok()?;
                ranges.iter().find_map(|r| slot_owner(r, slot))
            })
            .await
            .ok()
            .flatten();
            if let Some((host, port)) = owner {
                let known = nodes.iter().find(|n| {
                    let info = n.get_connection_info();
                    info.addr().to_string() == format!("{host}:{port}")
                });
                return match known {
                    Some(n) => Some(n.clone()),
                    None => redis::Client::open(format!("redis://{host}:{port}")).ok(),
                };
            }
        }
        None
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

    async fn connection(&self) -> Option<Conn> {
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
        let attempt = tokio::time::timeout(Duration::from_secs(1), async {
            match &self.backend {
                Backend::Single(client) => client
                    .get_connection_manager_with_config(config)
                    .await
                    .map(Conn::Single),
                Backend::Cluster { client, .. } => {
                    client.get_async_connection().await.map(Conn::Cluster)
                }
            }
        })
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
        F: FnOnce(Conn) -> Fut,
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

/// `(host, port)` of the master of one `CLUSTER SLOTS` range if it holds `slot`.
fn slot_owner(range: &redis::Value, slot: i64) -> Option<(String, u16)> {
    use redis::Value;
    let Value::Array(parts) = range else {
        return None;
    };
    let int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        _ => None,
    };
    let (start, end) = (int(parts.first()?)?, int(parts.get(1)?)?);
    if !(start..=end).contains(&slot) {
        return None;
    }
    let Value::Array(master) = parts.get(2)? else {
        return None;
    };
    let host = match master.first()? {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        _ => return None,
    };
    let port = u16::try_from(int(master.get(1)?)?).ok()?;
    Some((host, port))
}
