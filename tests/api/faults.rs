//! PostgreSQL slow: a competing transaction holds a lock on a hot table. Requests answer 503
//! problem+json with `Retry-After` after a bounded time (the statement timeout) instead of
//! piling up, and the service recovers by itself when the lock is released.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::helpers::{spawn_app_with, AppOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_on_merchants_answers_503_within_the_statement_timeout() {
    let app = spawn_app_with(AppOptions {
        statement_timeout: Duration::from_millis(800),
        ..Default::default()
    })
    .await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let path = format!("/api/v1/merchants/{}", shop.id);
    assert_eq!(app.get_as(&reg.token, &path).await.status(), 200);

    let mut locker = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    diesel::sql_query("BEGIN")
        .execute(&mut locker)
        .await
        .unwrap();
    diesel::sql_query("LOCK TABLE merchants IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();

    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(10), app.get_as(&reg.token, &path))
        .await
        .expect("an answer within 10 s, not a request piling up behind the lock");
    let took = started.elapsed();
    assert_eq!(r.status(), 503, "{:?}", r.text().await);
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    diesel::sql_query("COMMIT")
        .execute(&mut locker)
        .await
        .unwrap();
    let r = app.get_as(&reg.token, &path).await;
    assert_eq!(r.status(), 200, "recovered once the lock is gone");
}

/// SIGTERM: a request in flight is answered; for a moment the service goes on answering, with
/// `Connection: close`, so a request sent on a kept-alive connection as the signal arrives is
/// answered rather than cut off; the scan counts kept in memory are written, and the process is
/// gone within 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_flushes_scans_within_10_s() {
    use std::process::{Command, Stdio};
    let app = spawn_app_with(AppOptions::default()).await;
    let reg = app.regulator(&["513230"]).await;
    let shop = app.merchant_in("513230").await;
    let code: serde_json::Value = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/qrcode", shop.id),
            &serde_json::json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let code = code["code"].as_str().unwrap().to_owned();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yidianyima"))
        .args(["serve", "--no-migrate"])
        .env("DATABASE_URL", &app.database_url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("METRICS_BIND", "off")
        .env("JWT_SECRET", "sigterm-test-secret-sigterm-test-secret")
        .env("WORKERS", "2")
        // One connection: the shutdown flush then gets the one the last request used, opened
        // on an HTTP worker that has stopped (the counts were lost: "connection closed").
        .env("DATABASE_POOL_SIZE", "1")
        .env("GRADE_REFRESH_SECS", "0")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child's log, read as it comes (a full pipe would stall it) and shown if a check fails.
    let log = {
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        })
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !up {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the service did not start: {}", log.join().unwrap());
    }
    for _ in 0..3 {
        let r = client.get(format!("{base}/s/{code}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let token: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": reg.username, "password": reg.password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    // A PNG poster takes a while to render: in flight when SIGTERM arrives.
    let poster = tokio::spawn({
        let (client, url) = (
            client.clone(),
            format!("{base}/api/v1/merchants/{}/poster.png", shop.id),
        );
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let started = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    // A request on a connection kept alive from before the signal, sent just after it (late
    // in the drain, so that its pooled connection is fresh when the counts are flushed).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let during = client
        .get(format!("{base}/s/{code}"))
        .send()
        .await
        .expect("a request sent as the service stops is answered");
    assert_eq!(during.status(), 200);
    assert_eq!(
        during
            .headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close"),
        "answers after the signal tell the client to close"
    );
    let exited = tokio::task::spawn_blocking(move || {
        for _ in 0..150 {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        None
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let status = exited.expect("the process exits after SIGTERM");
    assert!(took < Duration::from_secs(10), "exited after {took:?}");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        poster.await.unwrap().unwrap(),
        200,
        "the request in flight was answered"
    );
    let scans = app
        .count(&format!(
            "SELECT coalesce(sum(count), 0)::bigint AS n FROM scan_counts WHERE code = '{code}'"
        ))
        .await;
    assert_eq!(
        scans,
        4,
        "the scans counted in memory (one while stopping) were written at shutdown; the \
         service's log:\n{}",
        log.join().unwrap()
    );
}

/// Two instances flushing their scan counts at once upsert the same rows: in one order (code,
/// day) they cannot deadlock (in hash order they did under load, and the counts were put back
/// for the next try, again and again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_flushing_scans_at_once_do_not_deadlock() {
    use yidianyima::cache::scans::ScanCounter;
    let app = spawn_app_with(AppOptions::default()).await;
    let reg = app.regulator(&["513230"]).await;
    for _ in 0..80 {
        app.merchant_in("513230").await;
    }
    let r = app
        .post_as(
            &reg.token,
            "/api/v1/regions/513230/qrcodes",
            &serde_json::json!({}),
        )
        .await;
    assert!(r.status().is_success(), "{:?}", r.text().await);
    #[derive(diesel::QueryableByName)]
    struct Code {
        #[diesel(sql_type = diesel::sql_types::Text)]
        code: String,
    }
    let mut conn = app.conn().await;
    let codes: Vec<Code> = diesel::sql_query("SELECT code FROM shop_codes")
        .load(&mut conn)
        .await
        .unwrap();
    assert!(codes.len() >= 80);
    let (a, b) = (ScanCounter::default(), ScanCounter::default());
    let day = yidianyima::service::today();
    let pool = app.state.pool.clone();
    let rounds = 12;
    for _ in 0..rounds {
        for c in &codes {
            a.record(&c.code, day);
            b.record(&c.code, day);
        }
        let (ra, rb) = tokio::join!(a.flush(&pool), b.flush(&pool));
        ra.expect("instance A's flush");
        rb.expect("instance B's flush");
    }
    let total = app
        .count("SELECT coalesce(sum(count), 0)::bigint AS n FROM scan_counts")
        .await;
    assert_eq!(total, (rounds * 2 * codes.len()) as i64);
}

/// What the backend with `pid` last ran, as PostgreSQL reports it.
async fn last_statement(url: &str, pid: i32) -> String {
    #[derive(diesel::QueryableByName)]
    struct Q {
        #[diesel(sql_type = diesel::sql_types::Text)]
        query: String,
    }
    let mut c = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query("SELECT query FROM pg_stat_activity WHERE pid = $1")
        .bind::<diesel::sql_types::Integer, _>(pid)
        .get_result::<Q>(&mut c)
        .await
        .unwrap()
        .query
}

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

async fn backend_pid(conn: &mut AsyncPgConnection, marker: &str) -> i32 {
    diesel::sql_query(format!(
        "SELECT pg_backend_pid() AS pid, '{marker}' AS marker"
    ))
    .get_result::<Pid>(conn)
    .await
    .unwrap()
    .pid
}

/// A pool of one connection on a fresh schema, and the backend pid of that connection, which
/// has just run a statement carrying `marker` and is back in the pool.
async fn pool_of_one(
    marker: &str,
) -> (
    crate::helpers::SchemaGuard,
    String,
    yidianyima::db::DbPool,
    i32,
) {
    let (guard, url) = crate::helpers::fresh_schema().await;
    let pool = yidianyima::db::pool_for(&url, 1).unwrap();
    let mut conn = pool.get().await.unwrap();
    let pid = backend_pid(&mut conn, marker).await;
    drop(conn);
    (guard, url, pool, pid)
}

/// A connection handed out again right after use costs no round trip of its own (under the
/// peak mix, a `SELECT 1` per checkout kept the staff pool's connections busy until the pool
/// ran out); one idle for a second is checked before it is handed out.
#[tokio::test]
async fn a_pooled_connection_is_checked_only_after_it_was_idle() {
    let (_guard, url, pool, pid) = pool_of_one("first-use").await;
    let conn = pool.get().await.unwrap();
    let seen = last_statement(&url, pid).await;
    assert!(
        seen.contains("first-use"),
        "a checkout right after use ran a statement: {seen}"
    );
    drop(conn);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let conn = pool.get().await.unwrap();
    let seen = last_statement(&url, pid).await;
    assert!(
        !seen.contains("first-use"),
        "a connection idle for 1.2 s was handed out unchecked"
    );
    drop(conn);
}

/// A connection PostgreSQL closed (a restart, an administrator's `pg_terminate_backend`) is
/// replaced when it is next taken from the pool, without a failed request.
#[tokio::test]
async fn a_connection_postgresql_closed_is_replaced_at_checkout() {
    let (_guard, url, pool, pid) = pool_of_one("before").await;
    let mut admin = AsyncPgConnection::establish(&url).await.unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({pid})"))
        .execute(&mut admin)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut conn = pool.get().await.unwrap();
    let again = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut *conn)
        .await
        .expect("the closed connection was handed out");
    assert_ne!(again.pid, pid);
}
