//! The page cache under concurrency and failure, with the interleavings forced: a render that
//! began before a write's invalidation is never kept (here or in Redis, by any instance); an
//! invalidation that could not reach Redis is not lost when Redis returns; the in-process layer
//! keeps to its byte budget.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, Utc};
use yidianyima::cache::pages::{PageCache, Rendered};
use yidianyima::cache::RedisStore;
use yidianyima::config::Secret;

use crate::helpers::redis_url;

fn page(body: &str) -> Rendered {
    Rendered {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: body.as_bytes().to_vec(),
        fresh_until: Utc::now() + Days::new(1),
        cacheable: true,
    }
}

fn store(url: &str, prefix: &str) -> Arc<RedisStore> {
    Arc::new(RedisStore::new(&Secret::new(url), prefix).unwrap())
}

/// A page cache on the shared Redis under `prefix`, as one app instance has.
fn instance(prefix: &str) -> Arc<PageCache> {
    Arc::new(PageCache::new(
        true,
        Some(store(&redis_url(), prefix)),
        1 << 24,
    ))
}

fn text(p: &yidianyima::cache::pages::CachedPage) -> String {
    String::from_utf8(p.identity.to_vec()).unwrap()
}

/// Renders `key` with a render that waits until `invalidate` has run, and returns what the
/// caller got.
async fn render_overtaken_by(
    cache: &Arc<PageCache>,
    key: &str,
    invalidate: impl std::future::Future<Output = ()>,
) -> String {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let c = cache.clone();
    let k = key.to_owned();
    let render = tokio::spawn(async move {
        c.get_or_render(&k, |_| async move {
            // Reads the data as it was before the write...
            let _ = started_tx.send(());
            let _ = go_rx.await;
            Ok(page("before the write"))
        })
        .await
        .map(|p| text(&p))
    });
    started_rx.await.unwrap();
    // ...the write commits and invalidates...
    invalidate.await;
    // ...and only then the render finishes.
    go_tx.send(()).unwrap();
    render.await.unwrap().unwrap()
}

#[tokio::test]
async fn a_render_that_began_before_an_invalidation_is_not_kept() {
    let prefix = format!("race{}:", uuid::Uuid::new_v4().simple());
    let cache = Arc::new(PageCache::new(
        true,
        Some(store(&redis_url(), &prefix)),
        1 << 24,
    ));
    let key = "page:{RACE000001}:zh";
    let got =
        render_overtaken_by(&cache, key, cache.invalidate_codes(&["RACE000001".into()])).await;
    assert_eq!(got, "before the write", "the caller gets what it rendered");
    let next = cache
        .get_or_render(key, |_| async { Ok(page("after the write")) })
        .await
        .unwrap();
    assert_eq!(
        text(&next),
        "after the write",
        "the overtaken render was not kept"
    );
}

#[tokio::test]
async fn another_instances_invalidation_keeps_a_render_out_of_redis() {
    let prefix = format!("race{}:", uuid::Uuid::new_v4().simple());
    let (a, b) = (instance(&prefix), instance(&prefix));
    let key = "page:{RACE000002}:zh";
    // Instance A renders while instance B's write invalidates.
    let got = render_overtaken_by(&a, key, b.invalidate_codes(&["RACE000002".into()])).await;
    assert_eq!(got, "before the write");
    for (name, cache) in [("B", &b), ("A", &a)] {
        let next = cache
            .get_or_render(key, |_| async { Ok(page("after the write")) })
            .await
            .unwrap();
        assert_eq!(
            text(&next),
            "after the write",
            "instance {name} must not find A's stale render (in Redis or in A)"
        );
    }
}

/// A private redis-server on a free port, persisting every write (append-only, fsync always) in
/// a directory of its own: killed and started again, it comes back with its data, stale pages
/// included, as a production Redis with persistence does.
struct PrivateRedis {
    child: Option<Child>,
    port: u16,
    dir: std::path::PathBuf,
    url: String,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("ydym-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Self {
            child: None,
            port,
            url: format!("redis://127.0.0.1:{port}"),
            dir,
        };
        r.run();
        r
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", self.dir.to_str().unwrap()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            let ok = redis::Client::open(self.url.as_str())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the private redis-server did not start");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_during_a_redis_outage_wins_when_redis_returns() {
    let mut redis = PrivateRedis::start();
    let prefix = "outage:";
    let a = Arc::new(PageCache::new(
        true,
        Some(store(&redis.url, prefix)),
        1 << 24,
    ));
    a.spawn_listener();
    let key = "page:{OUTAGE0001}:zh";
    let first = a
        .get_or_render(key, |_| async { Ok(page("before the outage")) })
        .await
        .unwrap();
    assert_eq!(text(&first), "before the outage");

    // Redis goes down (its data on disk); a write's invalidation cannot reach it.
    redis.kill();
    a.invalidate_codes(&["OUTAGE0001".into()]).await;
    // Redis comes back with the page from before the outage.
    redis.run();
    tokio::time::sleep(Duration::from_secs(4)).await;

    // An instance started after the outage, and the writer itself, render afresh.
    let b = Arc::new(PageCache::new(
        true,
        Some(store(&redis.url, prefix)),
        1 << 24,
    ));
    for (name, cache) in [("a new instance", &b), ("the writer", &a)] {
        let got = cache
            .get_or_render(key, |_| async { Ok(page("after the write")) })
            .await
            .unwrap();
        assert_eq!(
            text(&got),
            "after the write",
            "{name} must not be served the page from before the outage"
        );
    }
}

#[tokio::test]
async fn the_in_process_layer_keeps_to_its_byte_budget() {
    let budget = 2 * 1024 * 1024;
    let cache = PageCache::new(true, None, budget);
    // Pages that do not compress: 64 KiB of noise each, 100 of them (19 MiB in 3 encodings).
    for i in 0..100u32 {
        let body: String = (0..64 * 1024)
            .map(|j: u64| {
                char::from(b'a' + ((u64::from(i) * 7919 + j * 104_729 + j * j) % 26) as u8)
            })
            .collect();
        cache
            .get_or_render(&format!("page:{{BUDGET{i:04}}}:zh"), |_| async move {
                Ok(page(&body))
            })
            .await
            .unwrap();
    }
    let (bytes, entries) = cache.local_size().await;
    assert!(bytes <= budget, "{bytes} bytes held, budget {budget}");
    assert!(entries > 0 && entries < 100, "{entries} entries kept");
}

/// Requests that waited on a render that is then not kept (overtaken, or a 404) each get the
/// page, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_waiting_on_a_render_that_is_not_kept_all_get_the_page() {
    let prefix = format!("race{}:", uuid::Uuid::new_v4().simple());
    let cache = Arc::new(PageCache::new(
        true,
        Some(store(&redis_url(), &prefix)),
        1 << 24,
    ));
    let key = "page:{RACE000003}:zh";
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let mut waiting = Vec::new();
    for _ in 0..10 {
        let (c, started, mut go) = (cache.clone(), started_tx.clone(), go_rx.clone());
        waiting.push(tokio::spawn(async move {
            c.get_or_render(key, |_| async move {
                if let Some(tx) = started.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                let _ = go.wait_for(|g| *g).await;
                Ok(page("before the write"))
            })
            .await
            .map(|p| text(&p))
        }));
    }
    started_rx.await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    cache.invalidate_codes(&["RACE000003".into()]).await;
    go_tx.send(true).unwrap();
    for w in waiting {
        assert_eq!(w.await.unwrap().unwrap(), "before the write");
    }
}

/// A write's invalidation returns only once the other instances have dropped the page, so the
/// next request anywhere shows the write: pub/sub delivers the message before the publisher's
/// reply, but an instance busy at that moment reads it later, and meanwhile served the old page
/// from its memory. Instance B's runtime is kept busy for 150 ms across A's write.
#[tokio::test]
async fn a_write_returns_after_every_other_instance_dropped_the_page() {
    let prefix = format!("ack{}:", uuid::Uuid::new_v4().simple());
    let (a, b) = (instance(&prefix), instance(&prefix));
    // B runs in a runtime of its own, as another process would.
    let runtime_b = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let busy_b = runtime_b.handle().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener_b = b.clone();
    let thread_b = std::thread::spawn(move || {
        runtime_b.block_on(async move {
            listener_b.spawn_listener();
            let _ = stop_rx.await;
        })
    });
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{prefix}pages:invalidate");
    for _ in 0..100 {
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut conn)
            .await
            .unwrap();
        if n == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for round in 0..3 {
        let code = format!("ACK000000{round}");
        let key = &yidianyima::cache::pages::page_key(&code, "zh");
        let before = b
            .get_or_render(key, |_| async { Ok(page("before the write")) })
            .await
            .unwrap();
        assert_eq!(text(&before), "before the write");
        // B is busy (a long request, a GC-like pause) when A's write is published.
        busy_b.spawn(async { std::thread::sleep(Duration::from_millis(150)) });
        tokio::time::sleep(Duration::from_millis(10)).await;
        a.invalidate_codes(std::slice::from_ref(&code)).await;
        let next = b
            .get_or_render(key, |_| async { Ok(page("after the write")) })
            .await
            .unwrap();
        assert_eq!(
            text(&next),
            "after the write",
            "round {round}: B served its old page after A's write returned"
        );
    }
    let _ = stop_tx.send(());
    thread_b.join().unwrap();
}
