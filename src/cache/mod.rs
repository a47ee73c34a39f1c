//! Shared state outside PostgreSQL: Redis when configured, with an in-process fallback for
//! everything, so that a Redis outage degrades service rather than failing it.

pub mod limits;
pub mod pages;
pub mod redis_store;
pub mod scans;

pub use limits::{Limit, RateLimiter};
pub use redis_store::RedisStore;
