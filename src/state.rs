//! What every handler can reach.

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::cache::pages::PageCache;
use crate::cache::{RateLimiter, RedisStore};
use crate::config::Settings;
use crate::db::DbPool;

pub struct AppState {
    pub pool: DbPool,
    /// The public scan pages' own connections (see `db::public_pool`).
    pub public_pool: DbPool,
    /// Public reads: on a replica when one is good enough, else `public_pool`.
    pub reads: Arc<crate::db::replicas::PublicReads>,
    /// `None` when `REDIS_URL` is unset.
    pub redis: Option<Arc<RedisStore>>,
    pub limiter: RateLimiter,
    /// Rendered public pages (in-process, then Redis).
    pub pages: Arc<PageCache>,
    /// Scans counted in memory, flushed to PostgreSQL in batches.
    pub scans: Arc<crate::cache::scans::ScanCounter>,
    pub jwt: JwtKeys,
    /// Signs the public complaint form's tokens.
    pub form_tokens: crate::auth::form_token::FormTokens,
    /// Derives the console's CSRF tokens from session cookies.
    pub csrf: crate::auth::session::CsrfKey,
    /// Statistics reports, reused for `STATS_CACHE_SECS`.
    pub stats_cache: moka::future::Cache<String, Arc<crate::service::stats::StatsReport>>,
    pub settings: Settings,
}

impl AppState {
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let pool = crate::db::pool(&settings)?;
        let redis = RedisStore::from_settings(&settings)?.map(Arc::new);
        let public_pool = crate::db::public_pool(&settings)?;
        let reads = Arc::new(crate::db::replicas::PublicReads::new(
            &settings,
            public_pool.clone(),
        )?);
        let mut pages = PageCache::new(
            settings.page_cache,
            redis.clone(),
            settings.page_cache_max_bytes,
        );
        if reads.has_replicas() {
            pages = pages.with_read_floors(settings.database_replica_max_lag);
        }
        Ok(Self {
            public_pool,
            reads,
            pool,
            limiter: RateLimiter::new(redis.clone()),
            pages: Arc::new(pages),
            scans: Arc::new(crate::cache::scans::ScanCounter::default()),
            redis,
            form_tokens: crate::auth::form_token::FormTokens::new(
                settings.jwt_secret.expose().as_bytes(),
            ),
            csrf: crate::auth::session::CsrfKey::new(settings.jwt_secret.expose().as_bytes()),
            jwt: JwtKeys::new(settings.jwt_secret.expose().as_bytes(), settings.jwt_ttl),
            stats_cache: moka::future::Cache::builder()
                .max_capacity(1000)
                .time_to_live(settings.stats_cache.max(std::time::Duration::from_secs(1)))
                .build(),
            settings,
        })
    }
}
