//! End-to-end journeys in a real browser: Debian's `chromium` driven by Python Playwright
//! (`tests/browser/journeys.py`) against the real app. Rust makes the users and the data the
//! journeys start from, runs the script, and checks the database after it. Without python3,
//! Playwright or `/usr/bin/chromium` this fails (`.ci/run` installs them): it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::console_merchants::wrong_check_char;
use crate::helpers::{spawn_app, uscc_for};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole script, every journey included; a hung browser fails the test instead of CI.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(150);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/journeys.py")
}

/// Fails with what to install when the browser tooling is missing.
fn require_tools() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests need Debian's chromium \
         (apt-get install chromium; .ci/run does it)"
    );
    let probe = Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is needed for the browser tests ({e}); .ci/run installs it")
        });
    assert!(
        probe.status.success(),
        "Python Playwright is missing (pip install playwright; .ci/run does it; never \
         `playwright install`: the tests use {CHROMIUM}): {}",
        String::from_utf8_lossy(&probe.stderr)
    );
}

/// Runs the script with `env`, killing it after `SCRIPT_TIMEOUT`: (success, stdout + stderr).
fn run_script(env: Vec<(&'static str, String)>, downloads: &Path) -> (bool, String) {
    let log = downloads.join("journeys.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("python3")
        .arg("-u")
        .arg(script())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("python3 runs");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut text = std::fs::read_to_string(&log).unwrap_or_default();
    if status.is_none() {
        text.push_str(&format!("\n(killed after {SCRIPT_TIMEOUT:?})"));
    }
    (status.is_some_and(|s| s.success()), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_journeys_in_a_real_browser() {
    require_tools();
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let other = app.regulator(&["513231"]).await;

    // A shop with a code, for the consumer's complaint through the public form.
    let shop = app.merchant_in("513230").await;
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/qrcode", shop.id),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let code: Value = resp.json().await.unwrap();
    let code = code["code"].as_str().unwrap().to_owned();

    // Its owner, and two records about it to answer on a phone: a failed inspection to reply
    // to, a penalty to object to.
    let owner = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(shop.id))
        .await;
    let today = yidianyima::service::today().to_string();
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/inspections", shop.id),
            &json!({"kind": "routine", "inspected_on": today, "department": "红原县市场监督管理局",
                    "result": "fail", "summary": "冷柜温度超标"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/credit-records", shop.id),
            &json!({"kind": "penalty", "department": "红原县市场监督管理局", "decision_no": "红市监罚〔2026〕21号",
                    "decided_on": today, "summary": "误登记的处罚"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // A penalty old enough (120 days, the rule is 90) for the owner to apply for its repair.
    let decided = (yidianyima::service::today() - chrono::Days::new(120)).to_string();
    let r = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/credit-records", shop.id),
            &json!({"kind": "penalty", "department": "红原县市场监督管理局", "decision_no": "红市监罚〔2026〕5号",
                    "decided_on": decided, "summary": "未明码标价"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let old_penalty: Value = r.json().await.unwrap();

    let uscc = uscc_for("513230", 71_001);
    let uscc_nojs = uscc_for("513230", 71_002);
    let imported = [uscc_for("513230", 71_101), uscc_for("513230", 71_102)];
    let downloads = tempfile_dir();
    let env = vec![
        ("E2E_BASE_URL", app.address.clone()),
        ("E2E_REG_USER", reg.username.clone()),
        ("E2E_REG_PASS", reg.password.clone()),
        ("E2E_OTHER_USER", other.username.clone()),
        ("E2E_OTHER_PASS", other.password.clone()),
        ("E2E_USCC", uscc.clone()),
        ("E2E_USCC_BAD", wrong_check_char(&uscc)),
        ("E2E_USCC_NOJS", uscc_nojs.clone()),
        ("E2E_USCC_NOJS_BAD", wrong_check_char(&uscc_nojs)),
        ("E2E_IMPORT_USCCS", imported.join(",")),
        ("E2E_CODE", code),
        ("E2E_SHOP_ID", shop.id.to_string()),
        ("E2E_SHOP_USER", owner.username.clone()),
        ("E2E_SHOP_PASS", owner.password.clone()),
        ("E2E_OLD_PENALTY_ID", old_penalty["id"].to_string()),
        ("E2E_TODAY", yidianyima::service::today().to_string()),
        ("E2E_DOWNLOADS", downloads.display().to_string()),
    ];

    let started = Instant::now();
    let dir = downloads.clone();
    let (ok, output) = tokio::task::spawn_blocking(move || run_script(env, &dir))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&downloads);
    assert!(ok, "the browser journeys failed:\n{output}");
    eprintln!("browser journeys: {:?}\n{output}", started.elapsed());

    // What the journeys did is in the database.
    let app = &app;
    let count = |sql: String| async move { app.count(&sql).await };
    for (u, what) in [
        (&uscc, "created"),
        (&uscc_nojs, "created without JavaScript"),
    ] {
        assert_eq!(
            count(format!(
                "SELECT count(*) AS n FROM merchants WHERE uscc = '{u}' AND region_code = '513230'"
            ))
            .await,
            1,
            "the merchant {what}"
        );
    }
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM inspections i JOIN merchants m ON m.id = i.merchant_id \
             WHERE m.uscc = '{uscc}' AND i.result = 'fail'"
        ))
        .await,
        1,
        "the failed inspection"
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM shop_codes c JOIN merchants m ON m.id = c.merchant_id \
             WHERE m.uscc = '{uscc}'"
        ))
        .await,
        1,
        "the code issued in the console"
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM complaints WHERE merchant_id = {} AND status = 'accepted'",
            shop.id
        ))
        .await,
        1,
        "the complaint accepted"
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM merchants WHERE uscc IN ('{}', '{}')",
            imported[0], imported[1]
        ))
        .await,
        2,
        "the imported merchants"
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM merchants WHERE id = {} AND opening_hours = '08:30-21:30'",
            shop.id
        ))
        .await,
        1,
        "the hours changed on the phone"
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM record_replies WHERE merchant_id = {}",
            shop.id
        ))
        .await,
        1,
        "the reply"
    );
    for (sql, what) in [
        (
            format!(
                "SELECT count(*) AS n FROM objections WHERE merchant_id = {} AND status = 'corrected'",
                shop.id
            ),
            "the objection ended in a correction",
        ),
        (
            format!(
                "SELECT count(*) AS n FROM credit_records WHERE merchant_id = {} \
                 AND summary = '未按规定明码标价（经核查更正）' AND withdrawn_at IS NULL",
                shop.id
            ),
            "the corrected penalty, still public",
        ),
        (
            format!(
                "SELECT count(*) AS n FROM credit_repairs r JOIN credit_records c ON c.id = r.record_id \
                 WHERE r.merchant_id = {} AND r.status = 'approved' AND c.withdrawn_at IS NOT NULL",
                shop.id
            ),
            "the repair approved and the old penalty out of publicity",
        ),
        (
            format!(
                "SELECT count(*) AS n FROM evidence_files WHERE merchant_id = {} AND content_type = 'image/jpeg'",
                shop.id
            ),
            "the receipt photographed as evidence",
        ),
        (
            format!(
                "SELECT count(*) AS n FROM photos WHERE merchant_id = {} AND kind = 'storefront'",
                shop.id
            ),
            "the storefront photo",
        ),
        (
            format!(
                "SELECT count(*) AS n FROM complaints WHERE merchant_id = {} AND status = 'resolved' \
                 AND proposal_amount_fen = 5000",
                shop.id
            ),
            "the settlement accepted by the consumer",
        ),
    ] {
        assert_eq!(count(sql).await, 1, "{what}");
    }
}

/// A fresh directory for the script's downloads and log.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "yidianyima-e2e-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
