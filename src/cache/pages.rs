//! Rendered public pages, cached pre-compressed (identity, gzip, brotli) so that no request
//! renders or compresses a hot page: an in-process layer (moka) in front of Redis, which
//! app instances share. One render per key at a time (moka's `try_get_with`), so a burst of
//! scans of a cold page costs one set of PostgreSQL queries.
//!
//! Invalidation: every write that changes what a shop's pages show calls
//! `invalidate_merchants` after it commits: the keys of all the merchant's codes are deleted
//! here and in Redis, and the codes are published on a Redis channel that every instance
//! listens to, so the next request anywhere renders afresh. A page also carries the instant its
//! content changes by the passing of time (a licence expires, a publicity period ends); after
//! it, the entry is a miss.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::RedisStore;
use crate::db::schema::shop_codes;
use crate::error::AppError;

/// Longest an entry lives without an invalidation (a safety net, not the mechanism).
const TTL: Duration = Duration::from_secs(3600);
const CHANNEL: &str = "pages:invalidate";
/// The invalidation message meaning "every page" (codes never contain `*`).
const ALL: &str = "*";

/// A page as rendered, before compression.
pub struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub fresh_until: DateTime<Utc>,
    /// Kept in the cache (not for a 404: the code may be issued later).
    pub cacheable: bool,
}

impl Rendered {
    pub fn compressed(self) -> Result<CachedPage, AppError> {
        CachedPage::new(self.status, self.content_type, self.body, self.fresh_until)
            .map_err(AppError::Internal)
    }
    pub fn uncompressed(self) -> CachedPage {
        CachedPage::uncompressed(self.status, self.content_type, self.body, self.fresh_until)
    }
}

/// One page, in every encoding we serve.
#[derive(Debug, Clone)]
pub struct CachedPage {
    pub status: u16,
    pub content_type: String,
    /// Strong validator of the identity bytes (quoted); encodings append `-gz` / `-br`.
    pub etag: String,
    pub identity: Bytes,
    pub gzip: Bytes,
    pub brotli: Bytes,
    /// The content changes by time alone at this instant.
    pub fresh_until: DateTime<Utc>,
    /// Header values built once per page rather than per response.
    pub headers: PageHeaders,
}

/// `Content-Type`, the `ETag` of each encoding (identity, gzip, brotli), and for HTML the
/// `Content-Security-Policy` and `Referrer-Policy` values.
#[derive(Debug, Clone)]
pub struct PageHeaders {
    pub content_type: HeaderValue,
    pub etags: [HeaderValue; 3],
    pub html: Option<[HeaderValue; 2]>,
}

impl PageHeaders {
    fn new(content_type: &str, etag: &str) -> Self {
        let base = etag.trim_matches('"');
        let value = |s: String| {
            HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        };
        Self {
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
            etags: [
                value(format!("\"{base}\"")),
                value(format!("\"{base}-gz\"")),
                value(format!("\"{base}-br\"")),
            ],
            html: content_type.starts_with("text/html").then(|| {
                [
                    crate::pages::security::CSP_VALUE.clone(),
                    HeaderValue::from_static(crate::pages::security::REFERRER_POLICY),
                ]
            }),
        }
    }
}

fn etag_of(body: &[u8], status: u16) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    status.hash(&mut h);
    format!("\"{:016x}{:x}\"", h.finish(), body.len())
}

/// gzip at the default level, for on-the-fly compression.
pub fn gzip_fast(body: &[u8]) -> Bytes {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(body);
    Bytes::from(gz.finish().unwrap_or_default())
}

/// brotli at a fast level, for on-the-fly compression.
pub fn brotli_fast(body: &[u8]) -> Bytes {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        let _ = w.write_all(body);
    }
    Bytes::from(out)
}

#[derive(Serialize, Deserialize)]
struct Header {
    status: u16,
    content_type: String,
    etag: String,
    fresh_until: DateTime<Utc>,
    lens: [usize; 3],
}

impl CachedPage {
    /// Without the compressed copies: for a page served once (cache off), compressed on the
    /// fly for the one encoding asked for.
    pub fn uncompressed(
        status: u16,
        content_type: &str,
        body: Vec<u8>,
        fresh_until: DateTime<Utc>,
    ) -> Self {
        let etag = etag_of(&body, status);
        Self {
            status,
            headers: PageHeaders::new(content_type, &etag),
            content_type: content_type.to_owned(),
            etag,
            identity: Bytes::from(body),
            gzip: Bytes::new(),
            brotli: Bytes::new(),
            fresh_until,
        }
    }

    /// Compresses once, here.
    pub fn new(
        status: u16,
        content_type: &str,
        body: Vec<u8>,
        fresh_until: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&body)?;
        let gzip = gz.finish()?;
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 22);
            w.write_all(&body)?;
        }
        let etag = etag_of(&body, status);
        Ok(Self {
            status,
            headers: PageHeaders::new(content_type, &etag),
            content_type: content_type.to_owned(),
            etag,
            identity: Bytes::from(body),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(br),
            fresh_until,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            status: self.status,
            content_type: self.content_type.clone(),
            etag: self.etag.clone(),
            fresh_until: self.fresh_until,
            lens: [self.identity.len(), self.gzip.len(), self.brotli.len()],
        })
        .unwrap_or_default();
        let mut out = Vec::with_capacity(
            4 + header.len() + self.identity.len() + self.gzip.len() + self.brotli.len(),
        );
        out.extend_from_slice(&(header.len() as u32).to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.identity);
        out.extend_from_slice(&self.gzip);
        out.extend_from_slice(&self.brotli);
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let n = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?) as usize;
        let h: Header = serde_json::from_slice(raw.get(4..4 + n)?).ok()?;
        let mut at = 4 + n;
        let mut part = |len: usize| {
            let b = raw.get(at..at + len).map(Bytes::copy_from_slice);
            at += len;
            b
        };
        Some(Self {
            identity: part(h.lens[0])?,
            gzip: part(h.lens[1])?,
            brotli: part(h.lens[2])?,
            headers: PageHeaders::new(&h.content_type, &h.etag),
            status: h.status,
            content_type: h.content_type,
            etag: h.etag,
            fresh_until: h.fresh_until,
        })
    }

    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        now < self.fresh_until
    }
}

pub struct PageCache {
    enabled: bool,
    local: moka::future::Cache<String, Arc<CachedPage>>,
    redis: Option<Arc<RedisStore>>,
}

/// The cache keys of one code: every language of the page, and the JSON.
pub fn keys_of(code: &str) -> Vec<String> {
    crate::i18n::languages()
        .map(|l| format!("page:{code}:{l}"))
        .chain(std::iter::once(format!("page:{code}:json")))
        .collect()
}

impl PageCache {
    pub fn new(enabled: bool, redis: Option<Arc<RedisStore>>) -> Self {
        Self {
            enabled,
            local: moka::future::Cache::builder()
                .max_capacity(20_000)
                .time_to_live(TTL)
                .build(),
            redis,
        }
    }

    async fn redis_get(&self, key: &str) -> Option<CachedPage> {
        let redis = self.redis.as_ref()?;
        let k = redis.key(key);
        let raw: Option<Vec<u8>> = redis
            .run(|mut c| async move {
                redis::cmd("GET")
                    .arg(k)
                    .query_async::<Option<Vec<u8>>>(&mut c)
                    .await
            })
            .await?;
        raw.and_then(|r| CachedPage::decode(&r))
    }

    async fn redis_put(&self, key: &str, page: &CachedPage) {
        if let Some(redis) = &self.redis {
            let k = redis.key(key);
            let v = page.encode();
            let _: Option<()> = redis
                .run(|mut c| async move {
                    redis::cmd("SET")
                        .arg(k)
                        .arg(v)
                        .arg("EX")
                        .arg(TTL.as_secs())
                        .query_async(&mut c)
                        .await
                })
                .await;
        }
    }

    /// The page for `key`: from this process, else Redis, else `render` (once per key at a
    /// time). Only pages that `render` marks cacheable are kept.
    pub async fn get_or_render<F, Fut>(
        &self,
        key: &str,
        render: F,
    ) -> Result<Arc<CachedPage>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Rendered, AppError>>,
    {
        if !self.enabled {
            return render().await.map(|r| Arc::new(r.uncompressed()));
        }
        let now = Utc::now();
        if let Some(p) = self.local.get(key).await {
            if p.is_fresh(now) {
                metrics::hit("memory");
                return Ok(p);
            }
            self.local.invalidate(key).await;
        }
        // Not cacheable pages (404) are returned through this slot without being kept.
        let uncached: std::sync::Mutex<Option<Arc<CachedPage>>> = std::sync::Mutex::new(None);
        let result = self
            .local
            .try_get_with(key.to_owned(), async {
                if let Some(p) = self.redis_get(key).await {
                    if p.is_fresh(Utc::now()) {
                        metrics::hit("redis");
                        return Ok(Arc::new(p));
                    }
                }
                metrics::miss();
                let rendered = render().await?;
                if rendered.cacheable {
                    let page = Arc::new(rendered.compressed()?);
                    self.redis_put(key, &page).await;
                    Ok(page)
                } else {
                    *uncached.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(Arc::new(rendered.uncompressed()));
                    Err(AppError::NotFound)
                }
            })
            .await;
        match result {
            Ok(p) => Ok(p),
            Err(e) => {
                if let Some(p) = uncached.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    return Ok(p);
                }
                Err(match Arc::try_unwrap(e) {
                    Ok(e) => e,
                    Err(shared) => {
                        AppError::Internal(anyhow::anyhow!("page render failed: {shared}"))
                    }
                })
            }
        }
    }

    /// A page from this process or Redis, fresh or not: what is served when PostgreSQL is
    /// down.
    pub async fn get_any(&self, key: &str) -> Option<Arc<CachedPage>> {
        if let Some(p) = self.local.get(key).await {
            return Some(p);
        }
        self.redis_get(key).await.map(Arc::new)
    }

    /// Drops the pages of these codes here and in Redis, and tells the other instances.
    pub async fn invalidate_codes(&self, codes: &[String]) {
        if codes.is_empty() {
            return;
        }
        let keys: Vec<String> = codes.iter().flat_map(|c| keys_of(c)).collect();
        for k in &keys {
            self.local.invalidate(k).await;
        }
        if let Some(redis) = &self.redis {
            let full: Vec<String> = keys.iter().map(|k| redis.key(k)).collect();
            let channel = redis.key(CHANNEL);
            let payload = codes.join(",");
            let _: Option<()> = redis
                .run(|mut c| async move {
                    redis::pipe()
                        .cmd("DEL")
                        .arg(full)
                        .ignore()
                        .cmd("PUBLISH")
                        .arg(channel)
                        .arg(payload)
                        .ignore()
                        .query_async(&mut c)
                        .await
                })
                .await;
        }
    }

    /// Drops every page here and in Redis, and tells the other instances (a consumer warning
    /// shows on many pages).
    pub async fn invalidate_all(&self) {
        self.local.invalidate_all();
        if let Some(redis) = &self.redis {
            let pattern = format!("{}*", redis.key("page:"));
            let channel = redis.key(CHANNEL);
            let _: Option<()> = redis
                .run(|mut c| async move {
                    let mut cursor: u64 = 0;
                    loop {
                        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(1000)
                            .query_async(&mut c)
                            .await?;
                        if !keys.is_empty() {
                            redis::cmd("DEL")
                                .arg(keys)
                                .query_async::<()>(&mut c)
                                .await?;
                        }
                        if next == 0 {
                            break;
                        }
                        cursor = next;
                    }
                    redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(ALL)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
        }
    }

    /// Invalidates every code (active or withdrawn) of these merchants. Call after the write
    /// has committed.
    pub async fn invalidate_merchants(&self, conn: &mut AsyncPgConnection, ids: &[i64]) {
        if ids.is_empty() {
            return;
        }
        let codes: Vec<String> = match shop_codes::table
            .filter(shop_codes::merchant_id.eq_any(ids))
            .select(shop_codes::code)
            .load(conn)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list codes to invalidate; pages expire by TTL");
                return;
            }
        };
        self.invalidate_codes(&codes).await;
    }

    /// Listens for other instances' invalidations until the process ends (reconnecting after
    /// Redis failures).
    pub fn spawn_listener(self: &Arc<Self>) {
        let Some(redis) = self.redis.clone() else {
            return;
        };
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let channel = redis.key(CHANNEL);
            loop {
                match redis.client().get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&channel).await.is_ok() {
                            let mut stream = pubsub.on_message();
                            while let Some(msg) = stream.next().await {
                                let Some(cache) = me.upgrade() else { return };
                                let payload: String = msg.get_payload().unwrap_or_default();
                                if payload == ALL {
                                    cache.local.invalidate_all();
                                    continue;
                                }
                                for code in payload.split(',').filter(|c| !c.is_empty()) {
                                    for k in keys_of(code) {
                                        cache.local.invalidate(&k).await;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "page invalidation listener: redis down"),
                }
                if me.strong_count() == 0 {
                    return;
                }
                // Missed messages while disconnected: entries age out by TTL; drop them all
                // to be safe.
                if let Some(cache) = me.upgrade() {
                    cache.local.invalidate_all();
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        });
    }
}

/// Prometheus counters of cache hits and misses.
pub mod metrics {
    use std::sync::LazyLock;

    use prometheus::{IntCounterVec, Opts};

    pub static LOOKUPS: LazyLock<IntCounterVec> = LazyLock::new(|| {
        IntCounterVec::new(
            Opts::new(
                "yidianyima_page_cache_total",
                "scan-page cache lookups by outcome",
            ),
            &["outcome"],
        )
        .expect("valid metric")
    });

    /// The scan page's own latency histogram: `/s/{code}` is left out of the per-route
    /// middleware metrics (label lookups per request cost ~5 % of the hot path), and timed
    /// here with a metric resolved once.
    pub static SCAN_PAGE_SECONDS: LazyLock<prometheus::Histogram> = LazyLock::new(|| {
        prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "yidianyima_scan_page_seconds",
                "time to answer GET /s/{code} (all outcomes)",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )
        .expect("valid metric")
    });

    pub fn hit(layer: &str) {
        LOOKUPS.with_label_values(&[layer]).inc();
    }
    pub fn miss() {
        LOOKUPS.with_label_values(&["miss"]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_round_trip_and_compresses() {
        let body = "<html>".repeat(500).into_bytes();
        let p = CachedPage::new(200, "text/html; charset=utf-8", body.clone(), Utc::now()).unwrap();
        assert!(p.gzip.len() < body.len() / 10 && p.brotli.len() < body.len() / 10);
        let back = CachedPage::decode(&p.encode()).unwrap();
        assert_eq!(back.identity, p.identity);
        assert_eq!(back.gzip, p.gzip);
        assert_eq!(back.brotli, p.brotli);
        assert_eq!(back.etag, p.etag);
        assert!(CachedPage::decode(&[0, 0]).is_none());
    }
}
