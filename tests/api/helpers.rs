use std::sync::atomic::{AtomicU64, Ordering};

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use yidianyima::embedded;

use actix_web::web;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use tokio::sync::OnceCell;

use yidianyima::config::{LogFormat, Secret, Settings};
use yidianyima::db;
use yidianyima::db::audit::Actor;
use yidianyima::db::merchants::{MerchantRef, NewMerchant};
use yidianyima::db::users::NewUser;
use yidianyima::domain::user::Role;
use yidianyima::startup::Application;
use yidianyima::state::AppState;

/// Every test app lives in this database (created if missing), in a schema of its own.
const TEST_DB: &str = "yidianyima_test";

/// The PostgreSQL server the tests use: `TEST_DATABASE_SERVER`, else the one on
/// 127.0.0.1:5432, else a private cluster started for this test process (PostgreSQL's server
/// installed, none running: a fresh machine), stopped and removed when the process exits.
pub fn server_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        if let Some(url) = std::env::var("TEST_DATABASE_SERVER")
            .ok()
            .filter(|u| !u.is_empty())
        {
            return url;
        }
        if embedded::answers("127.0.0.1:5432") {
            return "postgres://postgres@127.0.0.1:5432".into();
        }
        let dir = std::env::temp_dir().join(format!("ydym-test-pg-{}", std::process::id()));
        let pg = embedded::LocalPostgres::start(&dir).unwrap_or_else(|e| {
            panic!("no PostgreSQL on 127.0.0.1:5432 and none could be started: {e:#}")
        });
        pg.stop_after_process(std::process::id(), true)
            .expect("the cluster's watchdog");
        eprintln!("tests: a private PostgreSQL on port {}", pg.port());
        pg.keep_running().server_url()
    })
    .clone()
}

/// The Redis the tests use: `TEST_REDIS_URL`, else the one on 127.0.0.1:6379, else a private
/// `redis-server` for this test process if one is installed.
pub fn redis_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        if let Some(url) = std::env::var("TEST_REDIS_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            return url;
        }
        if embedded::answers("127.0.0.1:6379") {
            return "redis://127.0.0.1:6379".into();
        }
        match embedded::private_redis_for(std::process::id()) {
            Some(url) => {
                eprintln!("tests: a private Redis at {url}");
                url
            }
            None => "redis://127.0.0.1:6379".into(),
        }
    })
    .clone()
}

/// Creates the test database once per process and sweeps schemas left by crashed runs.
async fn prepare_database() {
    static READY: OnceCell<()> = OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let mut admin = AsyncPgConnection::establish(&format!("{}/postgres", server_url()))
                .await
                .expect("PostgreSQL must be running (see README)");
            // Concurrent test processes may race here; "already exists" is fine.
            let _ = diesel::sql_query(format!("CREATE DATABASE {TEST_DB}"))
                .execute(&mut admin)
                .await;
            let mut conn = AsyncPgConnection::establish(&format!("{}/{TEST_DB}", server_url()))
                .await
                .expect("test database");
            #[derive(diesel::QueryableByName)]
            struct Name {
                #[diesel(sql_type = diesel::sql_types::Text)]
                nspname: String,
            }
            let names: Vec<Name> =
                diesel::sql_query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'test\\_%'")
                    .load(&mut conn)
                    .await
                    .expect("list schemas");
            let cutoff = now_secs().saturating_sub(3600);
            for n in names {
                let born: u64 = n
                    .nspname
                    .split('_')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if born < cutoff {
                    let _ =
                        diesel::sql_query(format!("DROP SCHEMA IF EXISTS {} CASCADE", n.nspname))
                            .execute(&mut conn)
                            .await;
                }
            }
        })
        .await;
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "test_{}_{}_{}",
        now_secs(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops its schema (and the Redis keys under its prefix) when it goes, panics included.
pub struct SchemaGuard {
    pub name: String,
    pub redis_prefix: Option<String>,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let schema = self.name.clone();
        let prefix = self.redis_prefix.clone();
        // Drop cannot await; clean up on a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut conn) =
                    AsyncPgConnection::establish(&format!("{}/{TEST_DB}", server_url())).await
                {
                    let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut conn)
                        .await;
                }
                let Some(prefix) = prefix else { return };
                if let Ok(client) = redis::Client::open(redis_url()) {
                    if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                        let keys: Vec<String> = redis::cmd("KEYS")
                            .arg(format!("{prefix}*"))
                            .query_async(&mut c)
                            .await
                            .unwrap_or_default();
                        if !keys.is_empty() {
                            let _: Result<(), _> =
                                redis::cmd("DEL").arg(keys).query_async(&mut c).await;
                        }
                    }
                }
            });
        })
        .join();
    }
}

/// A fresh, empty schema: its guard, and a URL whose connections use it.
pub async fn fresh_schema() -> (SchemaGuard, String) {
    prepare_database().await;
    let schema = unique_name();
    let mut conn = AsyncPgConnection::establish(&format!("{}/{TEST_DB}", server_url()))
        .await
        .unwrap();
    diesel::sql_query(format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!(
        "{}/{TEST_DB}?options=-c%20search_path%3D{schema}",
        server_url()
    );
    (
        SchemaGuard {
            name: schema,
            redis_prefix: None,
        },
        url,
    )
}

pub struct TestApp {
    pub address: String,
    /// The Prometheus listener (`METRICS_BIND`, port 0 here).
    pub metrics_address: String,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    pub schema: String,
    pub database_url: String,
    _guard: SchemaGuard,
    pub redis_prefix: String,
    counter: AtomicU64,
}

pub struct AppOptions {
    pub redis_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub database_url: Option<String>,
    pub migrate: bool,
    pub complaints: yidianyima::config::ComplaintSettings,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub statement_timeout: Duration,
    /// `STATS_CACHE_SECS` (0: tests read their own writes in the statistics at once).
    pub stats_cache: Duration,
    /// `DATABASE_REPLICA_URLS`.
    pub replica_urls: Vec<String>,
    /// `REDIS_CLUSTER_NODES`.
    pub redis_cluster_nodes: Vec<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            redis_url: Some(redis_url()),
            redis_prefix: None,
            database_url: None,
            migrate: true,
            complaints: Default::default(),
            trusted_proxies: vec![],
            statement_timeout: Duration::from_secs(15),
            stats_cache: Duration::ZERO,
            replica_urls: vec![],
            redis_cluster_nodes: vec![],
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(opts: AppOptions) -> TestApp {
    let (mut guard, url) = fresh_schema().await;
    let schema = guard.name.clone();
    let database_url = opts.database_url.unwrap_or(url);
    if opts.migrate {
        db::migrations::run_pending(&database_url)
            .await
            .expect("migrations");
    }
    let redis_prefix = opts.redis_prefix.unwrap_or_else(|| format!("{schema}:"));
    guard.redis_prefix = Some(redis_prefix.clone());
    let settings = Settings {
        database_url: Secret::new(database_url.clone()),
        database_pool_size: 4,
        database_public_pool_size: 2,
        database_pool_timeout: Duration::from_secs(5),
        database_statement_timeout: opts.statement_timeout,
        database_replica_urls: opts.replica_urls.iter().map(Secret::new).collect(),
        database_replica_max_lag: Duration::from_secs(2),
        redis_url: opts.redis_url.map(Secret::new),
        redis_cluster_nodes: opts.redis_cluster_nodes.clone(),
        redis_prefix: redis_prefix.clone(),
        bind: "127.0.0.1:0".into(),
        public_base_url: "http://shop.test".into(),
        jwt_secret: Secret::new(yidianyima::config::random_secret()),
        jwt_ttl: Duration::from_secs(8 * 3600),
        log_format: LogFormat::Text,
        trusted_proxies: opts.trusted_proxies,
        workers: 1,
        page_cache: true,
        stats_cache: opts.stats_cache,
        page_cache_max_bytes: yidianyima::cache::pages::DEFAULT_MAX_BYTES,
        // Tests run the grade refresh themselves: a background task frozen mid-transaction
        // when a test's runtime ends would hold its locks.
        grade_refresh_every: None,
        complaints: opts.complaints,
        bureau_name: None,
        bureau_name_en: None,
        metrics_bind: Some("127.0.0.1:0".into()),
    };
    let app = Application::build(settings).await.expect("build app");
    let port = app.port();
    let metrics_port = app.metrics_port().expect("a metrics listener");
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        metrics_address: format!("http://127.0.0.1:{metrics_port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state,
        schema,
        database_url,
        redis_prefix,
        _guard: guard,
        counter: AtomicU64::new(0),
    }
}

/// A user made for a test, with a token ready to use.
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub token: String,
}

impl TestApp {
    /// The base of the public URLs this app prints (its `PUBLIC_BASE_URL`).
    pub fn public_base_url(&self) -> String {
        self.state.settings.public_base_url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    pub async fn conn(&self) -> db::DbConn {
        self.state.pool.get().await.unwrap()
    }

    /// Creates a user directly in the database (as the CLI would) and issues a token.
    pub async fn user(&self, role: Role, regions: &[&str], merchant_id: Option<i64>) -> TestUser {
        let username = format!("{}-{}", role.as_str(), self.next());
        let password = format!("pw-{username}-long-enough");
        let pw = password.clone();
        let hash = tokio::task::spawn_blocking(move || yidianyima::auth::password::hash(&pw))
            .await
            .unwrap()
            .unwrap();
        let codes: Vec<String> = regions.iter().map(|s| s.to_string()).collect();
        let mut conn = self.conn().await;
        let row = db::users::create_audited(
            &mut conn,
            &Actor::cli(),
            &NewUser {
                username: &username,
                password_hash: &hash,
                role: role.as_str(),
                merchant_id,
            },
            &codes,
        )
        .await
        .unwrap();
        let token = self
            .state
            .jwt
            .issue(row.id, role, chrono::Utc::now())
            .unwrap();
        TestUser {
            id: row.id,
            username,
            password,
            token,
        }
    }

    pub async fn admin(&self) -> TestUser {
        self.user(Role::Admin, &[], None).await
    }

    pub async fn regulator(&self, regions: &[&str]) -> TestUser {
        self.user(Role::Regulator, regions, None).await
    }

    /// A merchant in `region` (the registry's core row).
    pub async fn merchant_in(&self, region: &str) -> MerchantRef {
        let n = self.next();
        let uscc = uscc_for(region, n);
        let mut conn = self.conn().await;
        db::merchants::insert(
            &mut conn,
            &NewMerchant {
                uscc: &uscc,
                name: &format!("测试商户{n}"),
                region_code: region,
            },
        )
        .await
        .unwrap()
    }

    /// GET without credentials, parsed as JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POST an HTML form without credentials: the status and the page.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let resp = self
            .client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    /// A token for `user` signed with this app's key (each test app has its own key, so a
    /// user made through one app needs this to act on another sharing its database).
    pub fn token_for(&self, user: &TestUser, role: Role) -> String {
        self.state
            .jwt
            .issue(user.id, role, chrono::Utc::now())
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POST a multipart form with one file part named `file` and text parts.
    pub async fn upload_as(
        &self,
        token: &str,
        path: &str,
        filename: &str,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn put_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// GET without credentials: the body as text (`url` is absolute, e.g. from `url()`).
    pub async fn get_text(&self, url: impl AsRef<str>) -> String {
        self.client
            .get(url.as_ref())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn delete_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The single number a query answers as `n` (a count, in this app's schema).
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn().await;
        diesel::sql_query(sql)
            .get_result::<N>(&mut conn)
            .await
            .unwrap()
            .n
    }
}

/// A valid USCC registered in `region`, distinct for each `n`.
pub fn uscc_for(region: &str, n: u64) -> String {
    yidianyima::domain::uscc::Uscc::build("92", region, &format!("{:08}", n % 100_000_000))
        .unwrap()
        .into_string()
}

/// Asserts a 422 naming `field` with `code` among its errors; returns the body.
pub async fn assert_field_error(resp: reqwest::Response, field: &str, code: &str) -> Value {
    let body = assert_problem(resp, 422, "validation_failed").await;
    let errors = body["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["code"] == code),
        "expected {field}/{code} in {body}"
    );
    body
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
pub async fn assert_problem(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "content type");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}
