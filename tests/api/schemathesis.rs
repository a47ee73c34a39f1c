//! schemathesis (PyPI, 4.x) against the running app's /openapi.json: generated requests, valid
//! and invalid, checked against what the spec says — server errors, undocumented statuses,
//! responses that do not match their schema, valid data rejected, invalid data accepted,
//! wrong answers to undocumented methods. `.ci/run` installs the pinned version.

use std::process::Command;
use std::time::Instant;

use crate::helpers::{spawn_app_with, AppOptions};

/// The version `.ci/run` installs.
const PINNED: &str = "4.32.5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure() {
    let version = Command::new("schemathesis").arg("--version").output();
    let version = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => panic!(
            "the `schemathesis` command is missing: `pip install schemathesis=={PINNED}` \
             (.ci/run installs it); this test does not skip"
        ),
    };
    // Rate limits high enough that generated requests reach the logic behind them (the limits
    // have tests of their own).
    let app = spawn_app_with(AppOptions {
        complaints: yidianyima::config::ComplaintSettings {
            per_phone_per_day: 1_000_000,
            per_ip_per_hour: 1_000_000,
            tracking_failures_per_ip: 1_000_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    yidianyima::demo::load_if_empty(&app.state.pool)
        .await
        .expect("demo data");
    let admin = app.admin().await;
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let args: Vec<String> = vec![
        "--config-file".into(),
        config.into(),
        "run".into(),
        app.url("/openapi.json"),
        "--url".into(),
        app.address.clone(),
        "-H".into(),
        format!("Authorization: Bearer {}", admin.token),
        "--checks".into(),
        "all".into(),
        "-n".into(),
        "5".into(),
        "--workers".into(),
        "1".into(),
        "--seed".into(),
        "20261130".into(),
        "--continue-on-failure".into(),
        // Five wrong logins lock the account for 15 minutes.
        "--exclude-path".into(),
        "/api/v1/auth/login".into(),
        // Within ~3 minutes on two cores: coverage (every boundary and wrong type, ~100 s) and
        // fuzzing; the stateful phase (link-following scenarios, another ~100 s+) is left out.
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--request-timeout".into(),
        "20".into(),
        "--no-color".into(),
        "--generation-database".into(),
        "none".into(),
    ];
    let mut args = args;
    if let Ok(dir) = std::env::var("SCHEMATHESIS_REPORT_DIR") {
        args.extend([
            "--report".into(),
            "ndjson".into(),
            "--report-dir".into(),
            dir,
        ]);
    }
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .args(&args)
            .current_dir(std::env::temp_dir())
            .output()
    })
    .await
    .unwrap()
    .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The counts, for the record (visible with --nocapture).
    println!("{}", version.trim());
    println!("{}", text);
    println!("schemathesis took {:.0?}", started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis reported failures (exit {:?}):\n{text}",
        out.status.code()
    );
}
