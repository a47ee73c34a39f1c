//! Fixed-window counters for rate limits: in Redis (shared by all app instances) when it is
//! reachable, in process otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::RedisStore;

/// A limit: at most `max` events per `window`, per key.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

/// 5 failed logins per username and client IP in 15 minutes.
pub const LOGIN_FAILURES: Limit = Limit {
    name: "login",
    max: 5,
    window: Duration::from_secs(15 * 60),
};

#[derive(Clone, Copy)]
struct Window {
    count: u32,
    expires: Instant,
}

pub struct RateLimiter {
    redis: Option<Arc<RedisStore>>,
    local: moka::future::Cache<String, Window>,
}

impl RateLimiter {
    pub fn new(redis: Option<Arc<RedisStore>>) -> Self {
        Self {
            redis,
            local: moka::future::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
        }
    }

    fn key(limit: &Limit, key: &str) -> String {
        format!("rl:{}:{}", limit.name, key)
    }

    /// `Some(seconds until the window ends)` when the limit is already reached.
    pub async fn blocked(&self, limit: &Limit, key: &str) -> Option<u64> {
        let k = Self::key(limit, key);
        if let Some(redis) = &self.redis {
            let rk = redis.key(&k);
            let got = redis
                .run(|mut c| async move {
                    redis::pipe()
                        .get(&rk)
                        .ttl(&rk)
                        .query_async::<(Option<u32>, i64)>(&mut c)
                        .await
                })
                .await;
            if let Some((count, ttl)) = got {
                return (count.unwrap_or(0) >= limit.max).then(|| ttl.max(1) as u64);
            }
        }
        let now = Instant::now();
        match self.local.get(&k).await {
            Some(w) if w.expires > now && w.count >= limit.max => {
                Some((w.expires - now).as_secs().max(1))
            }
            _ => None,
        }
    }

    /// Counts an attempt before it is evaluated: `Ok(count)` while the window holds at most
    /// `max` of them (this one included), else `Err(seconds until the window ends)`. Counting
    /// first makes the limit hold under parallel attempts: of 20 at once, 5 are let through.
    /// The attempt is counted in process as well as in Redis and the larger count decides, so
    /// attempts that found Redis busy or unreachable (each falls back alone) still add up.
    pub async fn attempt(&self, limit: &Limit, key: &str) -> Result<u32, u64> {
        let k = Self::key(limit, key);
        let local = self.hit_local(limit, &k).await;
        let shared = self.hit_redis(limit, &k).await.unwrap_or(0);
        let n = local.count.max(shared);
        if n <= limit.max {
            return Ok(n);
        }
        let local_wait = local
            .expires
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        Err(self.blocked(limit, key).await.unwrap_or(local_wait))
    }

    /// Counts one event; returns the count in the current window.
    pub async fn hit(&self, limit: &Limit, key: &str) -> u32 {
        let k = Self::key(limit, key);
        if let Some(count) = self.hit_redis(limit, &k).await {
            return count;
        }
        self.hit_local(limit, &k).await.count
    }

    /// Counts in Redis (`None` when it is unavailable).
    async fn hit_redis(&self, limit: &Limit, k: &str) -> Option<u32> {
        let redis = self.redis.as_ref()?;
        let rk = redis.key(k);
        let secs = limit.window.as_secs().max(1);
        redis
            .run(|mut c| async move {
                // SET NX starts the window with its expiry; INCR counts within it.
                redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&rk)
                    .arg(0)
                    .arg("EX")
                    .arg(secs)
                    .arg("NX")
                    .ignore()
                    .incr(&rk, 1)
                    .query_async::<(u32,)>(&mut c)
                    .await
            })
            .await
            .map(|(count,)| count)
    }

    /// Counts in this process.
    async fn hit_local(&self, limit: &Limit, k: &str) -> Window {
        let window = limit.window;
        self.local
            .entry(k.to_owned())
            .and_upsert_with(|old| async move {
                let now = Instant::now();
                match old.map(|e| e.into_value()) {
                    Some(w) if w.expires > now => Window {
                        count: w.count + 1,
                        expires: w.expires,
                    },
                    _ => Window {
                        count: 1,
                        expires: now + window,
                    },
                }
            })
            .await
            .into_value()
    }

    /// Counts one event against each of `limits` (one Redis round trip for all) and returns
    /// `Some(seconds until the window ends)` for the first limit now exceeded. The event that
    /// is refused is counted too: retrying while blocked does not shorten the wait.
    pub async fn charge(&self, limits: &[(Limit, &str)]) -> Option<u64> {
        if let Some(redis) = &self.redis {
            let keys: Vec<(String, u64)> = limits
                .iter()
                .map(|(l, k)| (redis.key(&Self::key(l, k)), l.window.as_secs().max(1)))
                .collect();
            // One transaction per key, all sent at once over the multiplexed connection (on
            // a Redis Cluster the keys are unrelated and live on different nodes).
            let got = redis
                .run(|c| async move {
                    let runs = keys.iter().map(|(k, secs)| {
                        let mut c = c.clone();
                        let mut p = redis::pipe();
                        p.atomic()
                            .cmd("SET")
                            .arg(k)
                            .arg(0)
                            .arg("EX")
                            .arg(*secs)
                            .arg("NX")
                            .ignore()
                            .incr(k, 1)
                            .ttl(k);
                        async move { p.query_async::<(u32, i64)>(&mut c).await }
                    });
                    futures_util::future::try_join_all(runs).await
                })
                .await;
            if let Some(counts) = got {
                return limits
                    .iter()
                    .zip(counts)
                    .find(|((l, _), (n, _))| *n > l.max)
                    .map(|(_, (_, ttl))| ttl.max(1) as u64);
            }
        }
        let mut refused = None;
        for (l, k) in limits {
            let n = self.hit(l, k).await;
            if n > l.max && refused.is_none() {
                refused = self.blocked(l, k).await.or(Some(l.window.as_secs()));
            }
        }
        refused
    }

    /// Clears the counter (e.g. after a successful login).
    pub async fn reset(&self, limit: &Limit, key: &str) {
        let k = Self::key(limit, key);
        if let Some(redis) = &self.redis {
            let rk = redis.key(&k);
            redis
                .run(|mut c| async move { redis::cmd("DEL").arg(&rk).query_async::<()>(&mut c).await })
                .await;
        }
        self.local.invalidate(&k).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_window_counts_and_blocks() {
        let limiter = RateLimiter::new(None);
        let limit = Limit {
            name: "t",
            max: 3,
            window: Duration::from_millis(300),
        };
        for i in 1..=3 {
            assert_eq!(limiter.blocked(&limit, "k").await, None);
            assert_eq!(limiter.hit(&limit, "k").await, i);
        }
        assert!(limiter.blocked(&limit, "k").await.is_some());
        assert_eq!(limiter.blocked(&limit, "other").await, None);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(limiter.blocked(&limit, "k").await, None, "window expired");
        assert_eq!(limiter.hit(&limit, "k").await, 1);
        limiter.reset(&limit, "k").await;
        assert_eq!(limiter.hit(&limit, "k").await, 1);
    }
}
