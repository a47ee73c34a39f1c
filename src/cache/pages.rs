//! Rendered public pages, cached pre-compressed (identity, gzip, brotli) so that no request
//! renders or compresses a hot page: an in-process layer (moka) in front of Redis, which
//! app instances share. One render per key at a time (moka's `try_get_with`), so a burst of
//! scans of a cold page costs one set of PostgreSQL queries.
//!
//! Invalidation: every write that changes what a shop's pages show calls
//! `invalidate_merchants` after it commits: the keys of all the merchant's codes are deleted
//! here and in Redis, and the codes are published on a Redis channel that every instance
//! listens to, so the next request anywhere renders afresh: each instance acknowledges the
//! message once it has dropped the pages, and the write waits (at most 250 ms) for every
//! acknowledgement before it answers. A page also carries the instant its
//! content changes by the passing of time (a licence expires, a publicity period ends); after
//! it, the entry is a miss.

use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
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
/// While Redis is unreachable (no invalidations from other instances), this process's pages
/// are dropped this often: another instance's write shows here after at most this long.
const OUTAGE_LOCAL_TTL: Duration = Duration::from_secs(15);
const CHANNEL: &str = "pages:invalidate";
/// The invalidation message meaning "every page" (codes never contain `*`).
const ALL: &str = "*";

/// Brotli quality of cached pages (see `CachedPage::new`).
pub const BROTLI_QUALITY: u32 = 5;

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
    /// When the render that made it began (its data is at least this recent): a copy in Redis
    /// older than the last Redis outage is not trusted.
    pub rendered_at: DateTime<Utc>,
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
    /// Absent in entries written before it existed: those are never trusted.
    #[serde(default)]
    rendered_at: Option<DateTime<Utc>>,
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
            rendered_at: Utc::now(),
        }
    }

    /// Compresses once, here, on the render's worker: gzip at its best level (a scan page is a
    /// few KB: well under a millisecond) and brotli at quality 5. Brotli's top quality costs
    /// milliseconds per page, and under the peak mix (a long tail of shops, most scans a miss)
    /// that CPU starved every other request on the worker; quality 5 is within a few percent of
    /// its size on these pages.
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
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, BROTLI_QUALITY, 22);
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
            rendered_at: Utc::now(),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            status: self.status,
            content_type: self.content_type.clone(),
            etag: self.etag.clone(),
            fresh_until: self.fresh_until,
            rendered_at: Some(self.rendered_at),
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
            rendered_at: h.rendered_at.unwrap_or(DateTime::<Utc>::MIN_UTC),
        })
    }

    /// Bytes this entry holds (its weight against the cache's byte budget).
    pub fn weight(&self) -> usize {
        self.identity.len() + self.gzip.len() + self.brotli.len() + self.content_type.len() + 512
    }

    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        now < self.fresh_until
    }
}

pub struct PageCache {
    enabled: bool,
    local: moka::future::Cache<String, Arc<CachedPage>>,
    redis: Option<Arc<RedisStore>>,
    /// Invalidations seen here, counted in slots by the key's hash (a render that began before
    /// one of its key is not kept; two keys sharing a slot only cost a render not kept), and of
    /// every key at once. Bounded, lock-free.
    generations: Box<[AtomicU64]>,
    generation_all: AtomicU64,
    /// Pages in Redis rendered before this instant (ms) are not trusted: Redis was unreachable
    /// after it, so an invalidation may have missed them.
    distrust_before_ms: AtomicI64,
    /// Codes whose invalidation could not reach Redis: sent again once it answers.
    pending: std::sync::Mutex<HashSet<String>>,
    /// Everything must be invalidated in Redis once it answers.
    pending_all: AtomicBool,
    /// Read-your-writes on read replicas (`None` without replicas): the commit position each
    /// render must see.
    floors: Option<Floors>,
    /// This cache's id in its invalidation messages: its own messages are not acknowledged by
    /// its own listener, nor waited for (it dropped its pages before sending them).
    instance: String,
    /// This cache's listener is subscribed (so it is one of a message's receivers).
    listening: AtomicBool,
}

/// Where a render may read: `None` the primary only; `Some(lsn)` a replica that has replayed
/// the WAL up to `lsn` (0: any replica within the lag bound).
pub type ReadFloor = Option<u64>;

/// The WAL positions (LSNs) writes reached, as far as this instance heard of them.
///
/// A write records `pg_current_wal_insert_lsn()` after it commits and sends it with the
/// page invalidation: in Redis (`lsn:{code}`, read with the page) and in the published
/// message. A render of the page then reads a replica only if that replica has replayed the
/// position (`db::replicas`), so the next request anywhere shows the write. While the
/// invalidation channel is down, and for the lag bound after it returns, writes may go
/// unheard: renders read the primary.
struct Floors {
    by_code: moka::future::Cache<String, u64>,
    /// A position every page must see (a consumer warning shows on every page).
    all: AtomicU64,
    /// Renders read the primary until this instant (ms since the epoch).
    primary_until_ms: AtomicI64,
    /// The invalidation channel is down, or not yet up (a write elsewhere would go unheard).
    deaf: AtomicBool,
    max_lag: Duration,
}

impl Floors {
    fn new(max_lag: Duration) -> Self {
        Self {
            by_code: moka::future::Cache::builder()
                .max_capacity(1_000_000)
                // After the lag bound, every replica used has replayed the position anyway.
                .time_to_live(max_lag * 4 + Duration::from_secs(60))
                .build(),
            all: AtomicU64::new(0),
            primary_until_ms: AtomicI64::new(0),
            deaf: AtomicBool::new(true),
            max_lag,
        }
    }

    async fn heard(&self, code: &str, lsn: u64) {
        if lsn == 0 {
            return;
        }
        self.by_code
            .entry(code.to_owned())
            .and_upsert_with(|old| async move { old.map_or(lsn, |e| e.into_value().max(lsn)) })
            .await;
    }

    async fn floor(&self, code: Option<&str>, from_redis: Option<u64>) -> ReadFloor {
        let now = Utc::now().timestamp_millis();
        if AtomicBool::load(&self.deaf, Ordering::SeqCst)
            || now < AtomicI64::load(&self.primary_until_ms, Ordering::SeqCst)
        {
            return None;
        }
        let mut lsn = AtomicU64::load(&self.all, Ordering::SeqCst);
        if let Some(code) = code {
            lsn = lsn.max(self.by_code.get(code).await.unwrap_or(0));
        }
        Some(lsn.max(from_redis.unwrap_or(0)))
    }

    /// The channel is down: nothing heard can be trusted to be complete.
    fn lost(&self) {
        self.deaf.store(true, Ordering::SeqCst);
    }

    /// The channel is up. After an outage, writes committed while it was down are on every
    /// usable replica once the lag bound has passed (and one monitor period more): until then
    /// renders read the primary.
    fn back(&self, after_outage: bool) {
        let until = if after_outage {
            (Utc::now() + self.max_lag + Duration::from_millis(500)).timestamp_millis()
        } else {
            0
        };
        self.primary_until_ms.store(until, Ordering::SeqCst);
        self.deaf.store(false, Ordering::SeqCst);
    }
}

/// The code of a page key (`page:{CODE}:zh` → `CODE`).
fn code_of(key: &str) -> Option<&str> {
    let start = key.find('{')? + 1;
    let len = key[start..].find('}')?;
    Some(&key[start..start + len])
}

/// The Redis key of the last write position of `code`'s pages (same hash tag as its pages).
fn lsn_key(code: &str) -> String {
    format!("lsn:{{{code}}}")
}

/// An invalidation message: the codes (or `*`), and the write position if known.
/// `id|codes@lsn`: `id` names the message for its acknowledgements (see `await_acks`).
fn message(id: &str, codes: &str, lsn: u64) -> String {
    format!("{id}|{codes}@{lsn}")
}

/// `(id, codes, lsn)` of a message (`id` empty and `lsn` 0 when absent).
fn parse_message(payload: &str) -> (&str, &str, u64) {
    let (id, rest) = payload.split_once('|').unwrap_or(("", payload));
    match rest.rsplit_once('@') {
        Some((codes, lsn)) => (id, codes, lsn.parse().unwrap_or(0)),
        None => (id, rest, 0),
    }
}

/// A fresh message id: this cache's own id, a dash, a random part (see `is_own`).
fn message_id(instance: &str) -> String {
    format!("{instance}-{:016x}", rand::random::<u64>())
}

/// Whether message `id` was sent by the cache whose id is `instance`.
fn is_own(id: &str, instance: &str) -> bool {
    id.split_once('-').is_some_and(|(i, _)| i == instance)
}

/// The Redis key counting the instances that have acted on message `id`.
fn ack_key(id: &str) -> String {
    format!("pages:ack:{id}")
}

/// Longest a write waits for the other instances to act on its invalidation.
const ACK_WAIT: Duration = Duration::from_millis(250);

/// The WAL position a write that has just committed on `conn` reached (0 if unknown).
pub async fn write_position(conn: &mut AsyncPgConnection) -> u64 {
    use diesel::sql_types::Text;
    match diesel::select(diesel::dsl::sql::<Text>(
        "pg_current_wal_insert_lsn()::text",
    ))
    .get_result::<String>(conn)
    .await
    {
        Ok(text) => crate::db::replicas::parse_lsn(&text).unwrap_or(0),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the WAL position of a write");
            0
        }
    }
}

/// The cache key of one variant (a language, or `json`) of a code's page. The code is the
/// key's hash tag, so a Redis Cluster keeps a page, its generation and its write position on
/// one node (one script can read and write them together).
pub fn page_key(code: &str, variant: &str) -> String {
    format!("page:{{{code}}}:{variant}")
}

/// The cache keys of one code: every language of the page, and the JSON.
pub fn keys_of(code: &str) -> Vec<String> {
    crate::i18n::languages()
        .chain(std::iter::once("json"))
        .map(|v| page_key(code, v))
        .collect()
}

/// The Redis key holding the invalidation count of page key `key`.
fn generation_key(key: &str) -> String {
    format!("gen:{key}")
}

/// The Redis key holding the end of the last outage any instance saw (ms since the epoch).
const EPOCH_KEY: &str = "pages:epoch";

/// Stores a page only if its key has not been invalidated since the render began: KEYS[1] the
/// page, KEYS[2] its generation; ARGV[1] the page, ARGV[2] the generation read before the
/// render ("" for none), ARGV[3] the TTL in seconds. Returns 1 if stored.
const PUT_IF_CURRENT: &str = r#"
local g = redis.call('GET', KEYS[2])
if (g or '') == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  return 1
end
return 0
"#;

/// Why a render's page is not in the cache: not to be kept (a 404; overtaken by an
/// invalidation), or the render failed.
enum NotKept {
    Page(Arc<CachedPage>),
    Failed(AppError),
}

/// What Redis holds for a key: the page, its generation, the last outage's end, and the
/// position of the code's last write.
struct RedisLookup {
    page: Option<CachedPage>,
    generation: String,
    epoch_ms: i64,
    lsn: u64,
}

/// Invalidates one code's pages (KEYS: its generations, then its pages, then its write
/// position; all tagged with the code): counts the invalidation of each page, deletes the
/// pages, and raises the write position. ARGV[1] the number of pages, ARGV[2] how long the
/// counters are kept, ARGV[3] the write position ("0": unknown).
const INVALIDATE: &str = r#"
local n = tonumber(ARGV[1])
for i = 1, n do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
for i = n + 1, 2 * n do
  redis.call('DEL', KEYS[i])
end
local lsn = tonumber(ARGV[3])
if lsn > 0 then
  local l = KEYS[2 * n + 1]
  local cur = tonumber(redis.call('GET', l) or '0')
  if lsn > cur then
    redis.call('SET', l, ARGV[3], 'EX', ARGV[2])
  end
end
return 1
"#;

/// Slots of the in-process generation counters.
const GENERATION_SLOTS: usize = 4096;

/// Default byte budget of the in-process layer.
pub const DEFAULT_MAX_BYTES: u64 = 128 * 1024 * 1024;

impl PageCache {
    /// `max_bytes`: the in-process layer's budget (entries weigh their bytes in every
    /// encoding); the least recently used go first when it is full.
    pub fn new(enabled: bool, redis: Option<Arc<RedisStore>>, max_bytes: u64) -> Self {
        Self {
            enabled,
            local: moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &String, v: &Arc<CachedPage>| {
                    u32::try_from(k.len() + v.weight()).unwrap_or(u32::MAX)
                })
                .time_to_live(TTL)
                .build(),
            redis,
            generations: (0..GENERATION_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            generation_all: AtomicU64::new(0),
            distrust_before_ms: AtomicI64::new(0),
            pending: std::sync::Mutex::new(HashSet::new()),
            pending_all: AtomicBool::new(false),
            floors: None,
            instance: format!("{:08x}", rand::random::<u32>()),
            listening: AtomicBool::new(false),
        }
    }

    /// Tracks write positions for renders on read replicas that lag at most `max_lag`.
    pub fn with_read_floors(mut self, max_lag: Duration) -> Self {
        let floors = Floors::new(max_lag);
        if self.redis.is_none() {
            // One instance on its own hears every write it makes.
            floors.back(false);
        }
        self.floors = Some(floors);
        self
    }

    /// Where a render of `key` may read now (without Redis: what this instance heard).
    pub async fn read_floor(&self, key: &str) -> ReadFloor {
        match &self.floors {
            None => Some(0),
            Some(f) => f.floor(code_of(key), None).await,
        }
    }

    /// Bytes held by the in-process layer (its weighted size), and its entry count.
    pub async fn local_size(&self) -> (u64, u64) {
        self.local.run_pending_tasks().await;
        (self.local.weighted_size(), self.local.entry_count())
    }

    fn slot(&self, key: &str) -> &AtomicU64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        &self.generations[(h.finish() % GENERATION_SLOTS as u64) as usize]
    }

    /// This instance's generation of `key`: changes whenever the key is invalidated here.
    fn generation(&self, key: &str) -> (u64, u64) {
        (
            AtomicU64::load(&self.generation_all, Ordering::SeqCst),
            AtomicU64::load(self.slot(key), Ordering::SeqCst),
        )
    }

    fn bump(&self, keys: &[String]) {
        for k in keys {
            self.slot(k).fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Drops every page of this process (and distrusts Redis's older ones when `outage`).
    fn drop_local_all(&self, outage: bool) {
        self.generation_all.fetch_add(1, Ordering::SeqCst);
        if outage {
            self.distrust_before_ms
                .fetch_max(Utc::now().timestamp_millis(), Ordering::SeqCst);
        }
        self.local.invalidate_all();
    }

    async fn redis_lookup(&self, key: &str) -> Option<RedisLookup> {
        let redis = self.redis.as_ref()?;
        let mut keys = vec![
            redis.key(key),
            redis.key(&generation_key(key)),
            redis.key(EPOCH_KEY),
        ];
        // The write position only matters to renders on replicas.
        if self.floors.is_some() {
            keys.push(redis.key(&lsn_key(code_of(key).unwrap_or(key))));
        }
        let raw: Vec<Option<Vec<u8>>> = redis
            .run(|mut c| async move {
                redis::cmd("MGET")
                    .arg(&keys[..])
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut c)
                    .await
            })
            .await?;
        let mut raw = raw.into_iter();
        let page = Iterator::next(&mut raw)
            .flatten()
            .and_then(|p: Vec<u8>| CachedPage::decode(&p));
        let mut text = || {
            Iterator::next(&mut raw)
                .flatten()
                .map(|b: Vec<u8>| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let generation = text();
        let epoch_ms = text().parse().unwrap_or(0);
        let lsn = text().parse().unwrap_or(0);
        Some(RedisLookup {
            page,
            generation,
            epoch_ms,
            lsn,
        })
    }

    /// Stores `page` in Redis unless `key` was invalidated since `generation` was read:
    /// `Some(true)` stored, `Some(false)` refused, `None` Redis unavailable.
    async fn redis_put_if_current(
        &self,
        key: &str,
        page: &CachedPage,
        generation: &str,
    ) -> Option<bool> {
        let redis = self.redis.as_ref()?;
        let (k, g) = (redis.key(key), redis.key(&generation_key(key)));
        let v = page.encode();
        let generation = generation.to_owned();
        let stored: i64 = redis
            .run(|mut c| async move {
                redis::cmd("EVAL")
                    .arg(PUT_IF_CURRENT)
                    .arg(2)
                    .arg(k)
                    .arg(g)
                    .arg(v)
                    .arg(generation)
                    .arg(TTL.as_secs())
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Some(stored == 1)
    }

    /// Invalidations wait to be sent to Redis (it did not answer when they were made).
    fn has_pending(&self) -> bool {
        AtomicBool::load(&self.pending_all, Ordering::SeqCst)
            || !self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
    }

    /// After Redis was unreachable: the invalidations that could not be sent are sent, and if
    /// there were any, every instance is told not to trust pages rendered before now (a page
    /// may have been stored by an instance that never heard of them). A Redis hiccup that lost
    /// nothing changes nothing.
    async fn after_outage(&self, redis: &RedisStore) {
        if !self.has_pending() {
            return;
        }
        let now = Utc::now().timestamp_millis();
        self.distrust_before_ms.fetch_max(now, Ordering::SeqCst);
        let epoch = redis.key(EPOCH_KEY);
        let _: Option<()> = redis
            .run(|mut c| async move {
                redis::cmd("EVAL")
                    .arg(
                        "local e = tonumber(redis.call('GET', KEYS[1]) or '0') \
                         if tonumber(ARGV[1]) > e then redis.call('SET', KEYS[1], ARGV[1]) end \
                         return 1",
                    )
                    .arg(1)
                    .arg(epoch)
                    .arg(now)
                    .query_async::<i64>(&mut c)
                    .await
                    .map(drop)
            })
            .await;
        self.flush_pending().await;
    }

    /// Sends the invalidations that could not reach Redis; keeps what still cannot.
    async fn flush_pending(&self) {
        if self.pending_all.swap(false, Ordering::SeqCst) && !self.redis_invalidate_all(0).await {
            self.pending_all.store(true, Ordering::SeqCst);
        }
        let codes: Vec<String> = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        if !codes.is_empty() && !self.redis_invalidate_codes(&codes, 0).await {
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(codes);
        }
    }

    /// The page for `key`: from this process, else Redis, else `render` (once per key at a
    /// time). Only pages that `render` marks cacheable are kept, and only if no invalidation
    /// of `key` happened while they were rendered (here, or in Redis by any instance).
    pub async fn get_or_render<F, Fut>(
        &self,
        key: &str,
        render: F,
    ) -> Result<Arc<CachedPage>, AppError>
    where
        F: FnOnce(ReadFloor) -> Fut,
        Fut: std::future::Future<Output = Result<Rendered, AppError>>,
    {
        if !self.enabled {
            let floor = self.read_floor(key).await;
            return render(floor).await.map(|r| Arc::new(r.uncompressed()));
        }
        let now = Utc::now();
        if let Some(p) = self.local.get(key).await {
            if p.is_fresh(now) {
                metrics::hit("memory");
                return Ok(p);
            }
            self.local.invalidate(key).await;
        }
        if let Some(redis) = &self.redis {
            if redis.take_recovered() {
                self.after_outage(redis).await;
            }
        }
        let started = Utc::now();
        let local_generation = self.generation(key);
        let result = self
            .local
            .try_get_with::<_, NotKept>(key.to_owned(), async {
                let found = self.redis_lookup(key).await;
                let mut redis_generation = None;
                let mut redis_lsn = None;
                if let Some(found) = &found {
                    redis_lsn = Some(found.lsn);
                }
                if let Some(found) = found {
                    let trusted_from = found
                        .epoch_ms
                        .max(AtomicI64::load(&self.distrust_before_ms, Ordering::SeqCst));
                    if let Some(p) = found.page {
                        if p.is_fresh(Utc::now())
                            && p.rendered_at.timestamp_millis() >= trusted_from
                        {
                            metrics::hit("redis");
                            return Ok(Arc::new(p));
                        }
                    }
                    redis_generation = Some(found.generation);
                }
                metrics::miss();
                let floor = match &self.floors {
                    None => Some(0),
                    // Redis did not answer: a write elsewhere may be unheard.
                    Some(_) if self.redis.is_some() && redis_lsn.is_none() => None,
                    Some(f) => f.floor(code_of(key), redis_lsn).await,
                };
                let rendered = render(floor).await.map_err(NotKept::Failed)?;
                if !rendered.cacheable {
                    return Err(NotKept::Page(Arc::new(rendered.uncompressed())));
                }
                let mut page = rendered.compressed().map_err(NotKept::Failed)?;
                page.rendered_at = started;
                if self.generation(key) != local_generation {
                    return Err(NotKept::Page(Arc::new(page)));
                }
                if let Some(g) = &redis_generation {
                    if self.redis_put_if_current(key, &page, g).await == Some(false) {
                        return Err(NotKept::Page(Arc::new(page)));
                    }
                }
                Ok(Arc::new(page))
            })
            .await;
        match result {
            Ok(p) => {
                // An invalidation between the last check and the insert: drop what was kept.
                if self.generation(key) != local_generation {
                    self.local.invalidate(key).await;
                }
                metrics::BYTES.set(i64::try_from(self.local.weighted_size()).unwrap_or(i64::MAX));
                Ok(p)
            }
            // Every request that waited for this render gets its page, kept or not.
            Err(e) => match Arc::try_unwrap(e) {
                Ok(NotKept::Page(p)) => Ok(p),
                Ok(NotKept::Failed(e)) => Err(e),
                Err(shared) => match &*shared {
                    NotKept::Page(p) => Ok(p.clone()),
                    NotKept::Failed(e) => Err(e.shared_copy()),
                },
            },
        }
    }

    /// A page from this process or Redis, fresh or not: what is served when PostgreSQL is
    /// down.
    pub async fn get_any(&self, key: &str) -> Option<Arc<CachedPage>> {
        if let Some(p) = self.local.get(key).await {
            return Some(p);
        }
        self.redis_lookup(key)
            .await
            .and_then(|f| f.page)
            .map(Arc::new)
    }

    /// Drops the pages of these codes here and in Redis, and tells the other instances. If
    /// Redis cannot be reached, it is done again once Redis answers.
    pub async fn invalidate_codes(&self, codes: &[String]) {
        self.invalidate_codes_at(codes, 0).await;
    }

    /// `invalidate_codes` after a write that reached WAL position `lsn` (renders on replicas
    /// must have replayed it).
    pub async fn invalidate_codes_at(&self, codes: &[String], lsn: u64) {
        if codes.is_empty() {
            return;
        }
        if let Some(f) = &self.floors {
            for c in codes {
                f.heard(c, lsn).await;
            }
        }
        let keys: Vec<String> = codes.iter().flat_map(|c| keys_of(c)).collect();
        // The generation first: a render that began before this is not kept.
        self.bump(&keys);
        for k in &keys {
            self.local.invalidate(k).await;
        }
        if self.redis.is_some() && !self.redis_invalidate_codes(codes, lsn).await {
            tracing::warn!(
                codes = codes.len(),
                "redis unavailable: page invalidation sent when it returns"
            );
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(codes.iter().cloned());
        }
    }

    /// Deletes the codes' pages in Redis, counts their invalidation, records the write
    /// position, and publishes it: `false` when Redis did not answer. One script per code
    /// (its keys share its hash tag); on one Redis they go in one round trip, on a cluster
    /// each to its node.
    async fn redis_invalidate_codes(&self, codes: &[String], lsn: u64) -> bool {
        let Some(redis) = &self.redis else {
            return true;
        };
        let keep = 2 * TTL.as_secs();
        let scripts: Vec<redis::Cmd> = codes
            .iter()
            .map(|code| {
                let pages = keys_of(code);
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(INVALIDATE).arg(2 * pages.len() + 1);
                for k in &pages {
                    cmd.arg(redis.key(&generation_key(k)));
                }
                for k in &pages {
                    cmd.arg(redis.key(k));
                }
                cmd.arg(redis.key(&lsn_key(code)))
                    .arg(pages.len())
                    .arg(keep)
                    .arg(lsn);
                cmd
            })
            .collect();
        let id = message_id(&self.instance);
        let mut publish = redis::cmd("PUBLISH");
        publish
            .arg(redis.key(CHANNEL))
            .arg(message(&id, &codes.join(","), lsn));
        let receivers = if redis.is_cluster() {
            redis
                .run(|c| async move {
                    let runs = scripts.iter().map(|cmd| {
                        let mut c = c.clone();
                        async move { cmd.query_async::<()>(&mut c).await }
                    });
                    futures_util::future::try_join_all(runs).await?;
                    publish.query_async::<i64>(&mut c.clone()).await
                })
                .await
        } else {
            redis
                .run(|mut c| async move {
                    let mut p = redis::pipe();
                    for cmd in scripts {
                        p.add_command(cmd).ignore();
                    }
                    p.add_command(publish)
                        .query_async::<(i64,)>(&mut c)
                        .await
                        .map(|(n,)| n)
                })
                .await
        };
        match receivers {
            Some(n) => {
                self.await_acks(redis, &id, n).await;
                true
            }
            None => false,
        }
    }

    /// Waits (at most `ACK_WAIT`) until the `receivers` instances that got message `id` have
    /// acted on it: the write's response then leaves after every instance has dropped the
    /// pages, so the next request anywhere shows the write. Pub/sub alone delivers the message
    /// first but does not wait for a busy instance to read it.
    async fn await_acks(&self, redis: &RedisStore, id: &str, receivers: i64) {
        // Not this instance: it dropped its own pages before sending the message.
        let receivers = receivers - i64::from(AtomicBool::load(&self.listening, Ordering::SeqCst));
        if receivers <= 0 {
            return;
        }
        let key = redis.key(&ack_key(id));
        let until = std::time::Instant::now() + ACK_WAIT;
        let mut pause = Duration::from_micros(500);
        loop {
            let k = key.clone();
            let acks: Option<Option<i64>> = redis
                .run(|mut c| async move {
                    redis::cmd("GET")
                        .arg(k)
                        .query_async::<Option<i64>>(&mut c)
                        .await
                })
                .await;
            match acks {
                Some(Some(n)) if n >= receivers => return,
                None => return,
                _ => {}
            }
            if std::time::Instant::now() >= until {
                tracing::warn!(
                    receivers,
                    "an instance did not act on a page invalidation within {ACK_WAIT:?}"
                );
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    /// Tells the writer that this instance acted on message `id` (not for its own messages).
    async fn ack(&self, redis: &RedisStore, id: &str) {
        if id.is_empty() || is_own(id, &self.instance) {
            return;
        }
        let key = redis.key(&ack_key(id));
        let _: Option<()> = redis
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .ignore()
                    .expire(&key, 60)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
    }

    /// Drops every page here and in Redis, and tells the other instances (a consumer warning
    /// shows on many pages).
    pub async fn invalidate_all(&self) {
        self.invalidate_all_at(0).await;
    }

    /// `invalidate_all` after a write that has just committed on `conn`.
    pub async fn invalidate_all_after(&self, conn: &mut AsyncPgConnection) {
        let lsn = if self.floors.is_some() {
            write_position(conn).await
        } else {
            0
        };
        self.invalidate_all_at(lsn).await;
    }

    async fn invalidate_all_at(&self, lsn: u64) {
        if let Some(f) = &self.floors {
            f.all.fetch_max(lsn, Ordering::SeqCst);
        }
        self.drop_local_all(false);
        if self.redis.is_some() && !self.redis_invalidate_all(lsn).await {
            self.pending_all.store(true, Ordering::SeqCst);
        }
    }

    /// Every page in Redis stops being trusted (the epoch: pages rendered before now are misses
    /// for every instance, and expire by their TTL), and the other instances are told; one
    /// small round trip whatever the number of pages. `false` when Redis did not answer.
    async fn redis_invalidate_all(&self, lsn: u64) -> bool {
        let Some(redis) = &self.redis else {
            return true;
        };
        let channel = redis.key(CHANNEL);
        let epoch = redis.key(EPOCH_KEY);
        let now = Utc::now().timestamp_millis();
        self.distrust_before_ms.fetch_max(now, Ordering::SeqCst);
        let id = message_id(&self.instance);
        let payload = message(&id, ALL, lsn);
        // The epoch first, then the message (on a cluster they live on different nodes, so
        // they are two commands rather than one transaction).
        let receivers = redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&epoch)
                    .arg(now)
                    .query_async::<()>(&mut c)
                    .await?;
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await;
        match receivers {
            Some(n) => {
                self.await_acks(redis, &id, n).await;
                true
            }
            None => false,
        }
    }

    /// Invalidates every code (active or withdrawn) of these merchants. Call after the write
    /// has committed.
    pub async fn invalidate_merchants(&self, conn: &mut AsyncPgConnection, ids: &[i64]) {
        if ids.is_empty() {
            return;
        }
        let lsn = if self.floors.is_some() {
            write_position(conn).await
        } else {
            0
        };
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
        self.invalidate_codes_at(&codes, lsn).await;
    }

    /// Listens for other instances' invalidations until the process ends (reconnecting after
    /// Redis failures; after each, this process's pages are dropped, Redis's older ones are not
    /// trusted, and the invalidations that could not be sent are sent).
    pub fn spawn_listener(self: &Arc<Self>) {
        let Some(redis) = self.redis.clone() else {
            return;
        };
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let channel = redis.key(CHANNEL);
            // While Redis is unreachable other instances' invalidations cannot arrive: this
            // process's pages are dropped when the connection is lost and every
            // `OUTAGE_LOCAL_TTL` after (not at every reconnection attempt: each drop makes
            // every scan a render), and once more when it is back.
            let mut down_since: Option<std::time::Instant> = None;
            let mut dropped_at = std::time::Instant::now();
            // On a cluster, the node to subscribe on (the next one after a failure).
            let mut node = 0usize;
            loop {
                let subscribed = match redis.pubsub_client(&channel, node).await {
                    Some(client) => match client.get_async_pubsub().await {
                        Ok(mut pubsub) => {
                            pubsub.subscribe(&channel).await.is_ok().then_some(pubsub)
                        }
                        Err(_) => None,
                    },
                    None => None,
                };
                if let Some(mut pubsub) = subscribed {
                    {
                        let Some(cache) = me.upgrade() else { return };
                        let after_outage = down_since.take().is_some();
                        if after_outage {
                            cache.drop_local_all(true);
                            cache.after_outage(&redis).await;
                        }
                        if let Some(f) = &cache.floors {
                            // Writes made before this instance first listened left their
                            // positions in Redis; after an outage some may not have.
                            f.back(after_outage);
                        }
                        cache.listening.store(true, Ordering::SeqCst);
                    }
                    let mut stream = pubsub.on_message();
                    while let Some(msg) = stream.next().await {
                        let Some(cache) = me.upgrade() else { return };
                        let payload: String = msg.get_payload().unwrap_or_default();
                        let (id, codes, lsn) = parse_message(&payload);
                        if codes == ALL {
                            if let Some(f) = &cache.floors {
                                f.all.fetch_max(lsn, Ordering::SeqCst);
                            }
                            cache.drop_local_all(false);
                            cache.ack(&redis, id).await;
                            continue;
                        }
                        let codes: Vec<&str> = codes.split(',').filter(|c| !c.is_empty()).collect();
                        // The position first: a render that misses because of this message
                        // must read a replica that has the write.
                        if let Some(f) = &cache.floors {
                            for c in &codes {
                                f.heard(c, lsn).await;
                            }
                        }
                        let keys: Vec<String> = codes.into_iter().flat_map(keys_of).collect();
                        cache.bump(&keys);
                        for k in keys {
                            cache.local.invalidate(&k).await;
                        }
                        cache.ack(&redis, id).await;
                    }
                }
                node = node.wrapping_add(1);
                let Some(cache) = me.upgrade() else { return };
                cache.listening.store(false, Ordering::SeqCst);
                if let Some(f) = &cache.floors {
                    f.lost();
                }
                let now = std::time::Instant::now();
                if down_since.is_none() || now.duration_since(dropped_at) >= OUTAGE_LOCAL_TTL {
                    tracing::debug!("page invalidation listener: redis down");
                    down_since.get_or_insert(now);
                    dropped_at = now;
                    cache.drop_local_all(true);
                }
                drop(cache);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        // Invalidations that could not be sent are retried every second while any wait.
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(cache) = me.upgrade() else { return };
                if cache.has_pending() {
                    cache.flush_pending().await;
                }
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

    /// Bytes held by this process's page cache (its weighted size, against
    /// `PAGE_CACHE_MAX_BYTES`).
    pub static BYTES: LazyLock<prometheus::IntGauge> = LazyLock::new(|| {
        prometheus::IntGauge::new(
            "yidianyima_page_cache_bytes",
            "bytes held by the in-process page cache",
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
    fn messages_carry_their_sender_and_position() {
        let id = message_id("0000abcd");
        assert!(is_own(&id, "0000abcd"));
        assert!(!is_own(&id, "0000abce"));
        assert!(!is_own("", "0000abcd"));
        let m = message(&id, "AAA,BBB", 42);
        assert_eq!(parse_message(&m), (id.as_str(), "AAA,BBB", 42));
        assert_eq!(parse_message("AAA"), ("", "AAA", 0));
        let all = message(&id, ALL, 0);
        assert_eq!(parse_message(&all).1, ALL);
    }

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
