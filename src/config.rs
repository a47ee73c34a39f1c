//! Settings from the environment. Secrets are wrapped so that `Debug` never prints them.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::RngCore;

/// A value that must never reach a log line.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// PostgreSQL URL (contains a password in production).
    pub database_url: Secret,
    pub database_pool_size: usize,
    /// Connections kept for the public scan pages alone (`DATABASE_PUBLIC_POOL_SIZE`, 8): staff
    /// reports and lists cannot starve them.
    pub database_public_pool_size: usize,
    /// Longest a request waits for a pooled connection (`DATABASE_POOL_TIMEOUT_MS`, 5 s).
    pub database_pool_timeout: Duration,
    /// Longest one statement of the service runs (`DATABASE_STATEMENT_TIMEOUT_MS`, 15 s; 0
    /// for none).
    pub database_statement_timeout: Duration,
    /// Read replicas for public reads (`DATABASE_REPLICA_URLS`, comma-separated; none by
    /// default): scan-page renders, their JSON and statistics read there when a replica has
    /// replayed what the page must show (see `db::replicas`).
    pub database_replica_urls: Vec<Secret>,
    /// A replica further behind the primary than this is skipped
    /// (`DATABASE_REPLICA_MAX_LAG_MS`, 2 s).
    pub database_replica_max_lag: Duration,
    /// Redis URL; `None` runs with in-process cache, counters and rate limits.
    pub redis_url: Option<Secret>,
    /// A Redis Cluster's nodes (`REDIS_CLUSTER_NODES=host:port,…`; any subset: the rest are
    /// discovered). When set, the service talks to the cluster and `REDIS_URL` is not used.
    pub redis_cluster_nodes: Vec<String>,
    /// Prefix of every Redis key, so that several deployments (or test runs) share one Redis.
    pub redis_prefix: String,
    pub bind: String,
    /// Base of the public URLs printed on QR codes, e.g. `https://ma.example.gov.cn`.
    pub public_base_url: String,
    pub jwt_secret: Secret,
    pub jwt_ttl: Duration,
    pub log_format: LogFormat,
    /// Peers whose `X-Forwarded-For` is believed (the reverse proxy); nobody else's is.
    pub trusted_proxies: Vec<IpAddr>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Cache rendered scan pages (`PAGE_CACHE=off` disables it: benchmarks of the uncached
    /// path, debugging).
    pub page_cache: bool,
    /// How long a statistics report is reused (`STATS_CACHE_SECS`, 30; 0 computes every time).
    pub stats_cache: Duration,
    /// Byte budget of the in-process page cache (`PAGE_CACHE_MAX_BYTES`, default 128 MiB).
    pub page_cache_max_bytes: u64,
    /// How often an instance tries the background grade refresh (`GRADE_REFRESH_SECS`,
    /// default 60; `0`: never, for tests and one-off tools that call it themselves).
    pub grade_refresh_every: Option<std::time::Duration>,
    pub complaints: ComplaintSettings,
    /// The issuing bureau named at the top of the scan page (`BUREAU_NAME`, and
    /// `BUREAU_NAME_EN` for English pages); unset: `bureau.name` in the locale files.
    pub bureau_name: Option<String>,
    pub bureau_name_en: Option<String>,
    /// Where Prometheus scrapes `/metrics` (`METRICS_BIND`, default `127.0.0.1:9090`), a
    /// listener of its own so that the public one does not show it; `None` (`off`): no metrics
    /// listener.
    pub metrics_bind: Option<String>,
}

/// The default of `METRICS_BIND`: only this host (and its Prometheus) can read it.
pub const DEFAULT_METRICS_BIND: &str = "127.0.0.1:9090";

/// Limits of the consumer complaint channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComplaintSettings {
    /// New complaints from one phone per 24 hours (`COMPLAINTS_PER_PHONE_PER_DAY`).
    pub per_phone_per_day: u32,
    /// New complaints from one client IP per hour (`COMPLAINTS_PER_IP_PER_HOUR`).
    pub per_ip_per_hour: u32,
    /// Failed tracking lookups from one client IP per 15 minutes (`TRACKING_FAILURES_PER_IP`).
    pub tracking_failures_per_ip: u32,
    /// Professional-claimant flag: this many complaints (`FLAG_MIN_COMPLAINTS`) …
    pub flag_min_complaints: u32,
    /// … against this many merchants (`FLAG_MIN_MERCHANTS`) …
    pub flag_min_merchants: u32,
    /// … within this many days (`FLAG_WINDOW_DAYS`).
    pub flag_window_days: u32,
}

impl Default for ComplaintSettings {
    fn default() -> Self {
        Self {
            per_phone_per_day: 5,
            // An abuse brake, not the rule (the rule is per phone): one carrier-grade NAT
            // address at a busy scenic spot carries hundreds of honest tourists.
            per_ip_per_hour: 300,
            tracking_failures_per_ip: 10,
            flag_min_complaints: 5,
            flag_min_merchants: 3,
            flag_window_days: 30,
        }
    }
}

/// Shortest accepted `JWT_SECRET` (bytes): HS256 keys shorter than the hash are weak.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Settings {
    /// Reads the environment. `dev` (the `--demo` flag) allows a missing `JWT_SECRET`: a random
    /// one is generated and a warning logged, so tokens do not survive a restart.
    pub fn from_env(dev: bool) -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok(), dev)
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, dev: bool) -> anyhow::Result<Self> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let database_url = nonempty("DATABASE_URL").context(
            "DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/yidianyima)",
        )?;
        let bind = bind_of(&get);
        let public_base_url = public_base_url_of(&get);
        let jwt_secret = match nonempty("JWT_SECRET") {
            Some(s) if s.len() >= MIN_JWT_SECRET_BYTES => s,
            Some(_) => bail!("JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            None if dev => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random secret for this run (demo/dev only); \
                     tokens will not survive a restart"
                );
                random_secret()
            }
            None => bail!("JWT_SECRET is required (at least {MIN_JWT_SECRET_BYTES} bytes) unless running with --demo"),
        };
        let jwt_ttl = match nonempty("JWT_TTL_SECONDS") {
            Some(v) => Duration::from_secs(
                v.parse::<u64>()
                    .ok()
                    .filter(|s| (60..=7 * 24 * 3600).contains(s))
                    .context("JWT_TTL_SECONDS must be a number of seconds between 60 and 604800")?,
            ),
            None => Duration::from_secs(8 * 3600),
        };
        let log_format = match nonempty("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("LOG_FORMAT must be text or json, not {other:?}"),
        };
        let database_pool_size = match nonempty("DATABASE_POOL_SIZE") {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .context("DATABASE_POOL_SIZE must be between 1 and 500")?,
            // 32: under the peak mix a staff request holds its connection for ~70 ms, mostly
            // waiting for the busy machine to run it again, not for PostgreSQL; with 16 the
            // staff reads queued for the pool (p50 4.7 s, at the 5 s wait) — see the README.
            None => 32,
        };
        let millis = |k: &str, default: u64, min: u64, max: u64| -> anyhow::Result<Duration> {
            match nonempty(k) {
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n == 0 && min == 0 || (min..=max).contains(n))
                    .map(Duration::from_millis)
                    .with_context(|| format!("{k} must be milliseconds between {min} and {max}")),
                None => Ok(Duration::from_millis(default)),
            }
        };
        let database_pool_timeout = millis("DATABASE_POOL_TIMEOUT_MS", 5_000, 100, 60_000)?;
        let database_statement_timeout =
            millis("DATABASE_STATEMENT_TIMEOUT_MS", 15_000, 0, 3_600_000)?;
        let database_public_pool_size = match nonempty("DATABASE_PUBLIC_POOL_SIZE") {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .context("DATABASE_PUBLIC_POOL_SIZE must be between 1 and 500")?,
            None => 8,
        };
        let trusted_proxies = nonempty("TRUSTED_PROXIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<IpAddr>()
                            .with_context(|| format!("TRUSTED_PROXIES: {s:?} is not an IP address"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        let workers = match nonempty("WORKERS") {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .context("WORKERS must be between 1 and 256")?,
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        let number = |k: &str, default: u32, max: u32| -> anyhow::Result<u32> {
            match nonempty(k) {
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .with_context(|| format!("{k} must be a whole number between 1 and {max}")),
                None => Ok(default),
            }
        };
        let d = ComplaintSettings::default();
        let complaints = ComplaintSettings {
            per_phone_per_day: number(
                "COMPLAINTS_PER_PHONE_PER_DAY",
                d.per_phone_per_day,
                1_000_000,
            )?,
            per_ip_per_hour: number("COMPLAINTS_PER_IP_PER_HOUR", d.per_ip_per_hour, 100_000_000)?,
            tracking_failures_per_ip: number(
                "TRACKING_FAILURES_PER_IP",
                d.tracking_failures_per_ip,
                1_000_000,
            )?,
            flag_min_complaints: number("FLAG_MIN_COMPLAINTS", d.flag_min_complaints, 1000)?,
            flag_min_merchants: number("FLAG_MIN_MERCHANTS", d.flag_min_merchants, 1000)?,
            flag_window_days: number("FLAG_WINDOW_DAYS", d.flag_window_days, 3650)?,
        };
        let list = |k: &str| -> Vec<String> {
            nonempty(k)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let redis_prefix = nonempty("REDIS_PREFIX").unwrap_or_else(|| "ydym:".to_owned());
        if redis_prefix.contains(['{', '}']) {
            // Keys used together carry a `{…}` hash tag so that a Redis Cluster keeps them on
            // one node; a brace in the prefix would become every key's tag.
            bail!("REDIS_PREFIX must not contain braces");
        }
        let metrics_bind = match nonempty("METRICS_BIND").as_deref().map(str::trim) {
            None => Some(DEFAULT_METRICS_BIND.to_owned()),
            Some("off" | "false" | "0") => None,
            Some(addr) => Some(addr.to_owned()),
        };
        Ok(Self {
            complaints,
            bureau_name: nonempty("BUREAU_NAME").map(|s| s.trim().to_owned()),
            bureau_name_en: nonempty("BUREAU_NAME_EN").map(|s| s.trim().to_owned()),
            metrics_bind,
            database_url: Secret::new(database_url),
            database_pool_size,
            database_public_pool_size,
            database_pool_timeout,
            database_statement_timeout,
            database_replica_urls: list("DATABASE_REPLICA_URLS")
                .into_iter()
                .map(Secret::new)
                .collect(),
            database_replica_max_lag: millis("DATABASE_REPLICA_MAX_LAG_MS", 2_000, 100, 600_000)?,
            redis_url: nonempty("REDIS_URL").map(Secret::new),
            redis_cluster_nodes: list("REDIS_CLUSTER_NODES"),
            redis_prefix,
            bind,
            public_base_url,
            jwt_secret: Secret::new(jwt_secret),
            jwt_ttl,
            log_format,
            trusted_proxies,
            workers,
            page_cache: !matches!(
                nonempty("PAGE_CACHE").as_deref(),
                Some("off" | "false" | "0")
            ),
            stats_cache: match nonempty("STATS_CACHE_SECS") {
                Some(v) => Duration::from_secs(
                    v.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n <= 3600)
                        .context("STATS_CACHE_SECS must be seconds between 0 and 3600")?,
                ),
                None => Duration::from_secs(30),
            },
            page_cache_max_bytes: match nonempty("PAGE_CACHE_MAX_BYTES") {
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1024 * 1024..=64 * 1024 * 1024 * 1024).contains(n))
                    .context(
                        "PAGE_CACHE_MAX_BYTES must be a number of bytes between 1 MiB and 64 GiB",
                    )?,
                None => crate::cache::pages::DEFAULT_MAX_BYTES,
            },
            // `0` turns the refresh off (as the README says), so it is not `number`'s 1..=max.
            grade_refresh_every: match nonempty("GRADE_REFRESH_SECS").as_deref().map(str::trim) {
                None => Some(Duration::from_secs(60)),
                Some("0") => None,
                Some(v) => Some(Duration::from_secs(
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| (1..=86_400).contains(n))
                        .context(
                            "GRADE_REFRESH_SECS must be 0 (off) or seconds between 1 and 86400",
                        )?,
                )),
            },
        })
    }
}

impl Settings {
    /// The bureau's name for a page in `lang`: the setting for that language, else (English)
    /// the Chinese setting, else the locale files' word.
    pub fn bureau(&self, lang: &str) -> String {
        let set = if lang == "zh" {
            self.bureau_name.as_ref()
        } else {
            self.bureau_name_en.as_ref().or(self.bureau_name.as_ref())
        };
        set.cloned()
            .unwrap_or_else(|| crate::i18n::text(lang, "bureau.name").to_owned())
    }
}

fn bind_of(get: &impl Fn(&str) -> Option<String>) -> String {
    get("BIND")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
}

fn public_base_url_of(get: &impl Fn(&str) -> Option<String>) -> String {
    get("PUBLIC_BASE_URL")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| format!("http://{}", bind_of(get)))
        .trim_end_matches('/')
        .to_owned()
}

/// `PUBLIC_BASE_URL` as the service would read it (for commands that print public URLs
/// without starting the service).
pub fn public_base_url_from_env() -> String {
    public_base_url_of(&|k: &str| std::env::var(k).ok())
}

pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)], dev: bool) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned(), dev)
    }

    #[test]
    fn defaults_and_requirements() {
        assert!(settings(&[], true).is_err(), "DATABASE_URL required");
        let db = ("DATABASE_URL", "postgres://u:hunter2@h/db");
        assert!(
            settings(&[db], false).is_err(),
            "JWT_SECRET required outside dev"
        );
        assert!(settings(&[db, ("JWT_SECRET", "short")], false).is_err());
        let s = settings(&[db], true).unwrap();
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.public_base_url, "http://127.0.0.1:8080");
        assert_eq!(s.jwt_ttl, Duration::from_secs(28800));
        assert!(s.redis_url.is_none());
        assert_eq!(s.jwt_secret.expose().len(), 64);
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("hunter2"),
            "secrets never printed: {printed}"
        );
        assert!(!printed.contains(s.jwt_secret.expose()));
        assert!(settings(&[db, ("LOG_FORMAT", "xml")], true).is_err());
        assert!(settings(&[db, ("TRUSTED_PROXIES", "10.0.0.1, nope")], true).is_err());
        let s = settings(
            &[
                db,
                ("TRUSTED_PROXIES", "10.0.0.1, ::1"),
                ("PUBLIC_BASE_URL", "https://x.cn/"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(s.public_base_url, "https://x.cn");
    }

    #[test]
    fn replicas_and_redis_cluster() {
        let db = ("DATABASE_URL", "postgres://u@h/db");
        let s = settings(&[db], true).unwrap();
        assert!(s.database_replica_urls.is_empty() && s.redis_cluster_nodes.is_empty());
        assert_eq!(s.database_replica_max_lag, Duration::from_secs(2));
        let s = settings(
            &[
                db,
                (
                    "DATABASE_REPLICA_URLS",
                    "postgres://r1/db, ,postgres://r2/db",
                ),
                ("REDIS_CLUSTER_NODES", "10.0.0.1:7000,10.0.0.2:7000"),
                ("DATABASE_REPLICA_MAX_LAG_MS", "500"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(s.database_replica_urls.len(), 2);
        assert_eq!(s.redis_cluster_nodes, ["10.0.0.1:7000", "10.0.0.2:7000"]);
        assert_eq!(s.database_replica_max_lag, Duration::from_millis(500));
        for bad in ["0", "50", "999999999", "soon"] {
            let e = settings(&[db, ("DATABASE_REPLICA_MAX_LAG_MS", bad)], true).unwrap_err();
            assert!(e.to_string().contains("DATABASE_REPLICA_MAX_LAG_MS"), "{e}");
        }
        // A brace would make the prefix every key's hash tag (one cluster node for all).
        let e = settings(&[db, ("REDIS_PREFIX", "{ydym}:")], true).unwrap_err();
        assert!(e.to_string().contains("REDIS_PREFIX"), "{e}");
    }

    #[test]
    fn metrics_listener_and_bureau_name() {
        let db = ("DATABASE_URL", "postgres://u@h/db");
        let s = settings(&[db], true).unwrap();
        assert_eq!(s.metrics_bind.as_deref(), Some("127.0.0.1:9090"));
        assert_eq!(s.bureau("zh"), "阿坝州市场监督管理局");
        assert_eq!(
            s.bureau("en"),
            "Aba Prefecture Market Supervision Administration"
        );
        let s = settings(&[db, ("METRICS_BIND", "off")], true).unwrap();
        assert_eq!(s.metrics_bind, None);
        let s = settings(
            &[
                db,
                ("METRICS_BIND", "0.0.0.0:9100"),
                ("BUREAU_NAME", "甘孜州市场监督管理局"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(s.metrics_bind.as_deref(), Some("0.0.0.0:9100"));
        assert_eq!(s.bureau("zh"), "甘孜州市场监督管理局");
        assert_eq!(s.bureau("en"), "甘孜州市场监督管理局");
        let s = settings(
            &[
                db,
                ("BUREAU_NAME", "甘孜州市场监督管理局"),
                (
                    "BUREAU_NAME_EN",
                    "Garzê Prefecture Market Supervision Administration",
                ),
            ],
            true,
        )
        .unwrap();
        assert!(s.bureau("en").starts_with("Garzê"));
    }
}
