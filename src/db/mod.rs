//! Persistence: the pool, migrations and one module of queries per table family. Functions take
//! `&mut AsyncPgConnection` and return `QueryResult`; they know nothing of HTTP.

pub mod audit;
pub mod calendar;
pub mod complaints;
pub mod evidence;
pub mod merchants;
pub mod migrations;
pub mod objections;
pub mod regions;
pub mod repairs;
pub mod replies;
pub mod schema;
pub mod sessions;
pub mod shop_codes;
pub mod stats;
pub mod users;

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::AsyncPgConnection;

use crate::config::Settings;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// Builds the pool; connections are opened on demand, so this succeeds while PostgreSQL is down
/// (`/readyz` then says so).
pub fn pool(settings: &Settings) -> anyhow::Result<DbPool> {
    pool_for(settings.database_url.expose(), settings.database_pool_size)
}

/// A pool for `database_url` (the CLI's commands, which need nothing else from `Settings`).
pub fn pool_for(database_url: &str, size: usize) -> anyhow::Result<DbPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the database pool: {e}"))
}
