//! The small end: with PostgreSQL installed but not running, `serve --demo` makes a private
//! cluster, runs on it, and stops it when it stops.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use yidianyima::embedded::{self, LocalPostgres};

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ydym-embedded-{}", uuid::Uuid::new_v4().simple()))
}

#[tokio::test]
async fn a_private_cluster_is_created_used_stopped_and_started_again() {
    let dir = temp_dir();
    let d = dir.clone();
    let pg = tokio::task::spawn_blocking(move || LocalPostgres::start(&d))
        .await
        .unwrap()
        .expect("initdb and pg_ctl are installed (.ci/run installs postgresql)");
    let url = pg.url("ydym_embedded");
    let applied = yidianyima::db::migrations::run_pending(&url).await.unwrap();
    assert!(!applied.is_empty());
    let port = pg.port();
    drop(pg);
    assert!(!embedded::answers(&format!("127.0.0.1:{port}")), "stopped");
    // Started again on the same directory: the data is still there.
    let d = dir.clone();
    let pg = tokio::task::spawn_blocking(move || LocalPostgres::start(&d))
        .await
        .unwrap()
        .unwrap();
    let again = yidianyima::db::migrations::run_pending(&pg.url("ydym_embedded"))
        .await
        .unwrap();
    assert!(again.is_empty(), "already migrated: {again:?}");
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_without_a_database_runs_on_a_private_cluster_and_stops_it() {
    let dir = temp_dir();
    let port = embedded::free_port().unwrap();
    let closed = embedded::free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_yidianyima"))
        .args(["serve", "--demo"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("DEMO_DATABASE_ADDR", format!("127.0.0.1:{closed}"))
        .env("EMBEDDED_PG_DIR", &dir)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("METRICS_BIND", "off")
        .env("GRADE_REFRESH_SECS", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut ready = false;
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if r.status() == 200 {
                ready = true;
                break;
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if !ready {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("not ready: {}", String::from_utf8_lossy(&out.stderr));
    }
    let regions: serde_json::Value = client
        .get(format!("http://127.0.0.1:{port}/api/v1/regions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        regions.as_array().is_some_and(|r| !r.is_empty()),
        "demo data loaded"
    );
    let pid_file = dir.join("postmaster.pid");
    assert!(
        pid_file.exists(),
        "the private cluster runs in {}",
        dir.display()
    );
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        !pid_file.exists(),
        "the private cluster was stopped with the service"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
