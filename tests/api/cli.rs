//! The `yidianyima` binary's account and region commands against a test schema.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use yidianyima::db;

use crate::helpers::spawn_app;

fn run(database_url: &str, args: &[&str], stdin: &str) -> (bool, String) {
    run_with(database_url, args, stdin, &[])
}

fn run_with(
    database_url: &str,
    args: &[&str],
    stdin: &str,
    envs: &[(&str, &str)],
) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yidianyima"))
        .args(args)
        .envs(envs.iter().copied())
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn user_create_and_passwd_from_the_command_line() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let (ok, out) = run(
        &url,
        &[
            "user",
            "create",
            "--username",
            "li.si",
            "--role",
            "regulator",
            "--region",
            "513230",
            "--region",
            "513231",
            "--password-stdin",
        ],
        "first-password-1\n",
    );
    assert!(ok, "{out}");
    let resp = app.login("li.si", "first-password-1").await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = app
        .get_as(&token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["region_codes"], serde_json::json!(["513230", "513231"]));

    // rules are the API's rules
    let (ok, out) = run(
        &url,
        &[
            "user",
            "create",
            "--username",
            "li.si",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "another-password\n",
    );
    assert!(!ok && out.contains("taken"), "{out}");
    let (ok, out) = run(
        &url,
        &[
            "user",
            "create",
            "--username",
            "wang",
            "--role",
            "regulator",
            "--password-stdin",
        ],
        "another-password\n",
    );
    assert!(!ok && out.contains("--region"), "{out}");
    let (ok, out) = run(
        &url,
        &[
            "user",
            "create",
            "--username",
            "wang",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!ok && out.contains("at least 8"), "{out}");

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (ok, out) = run(
        &url,
        &["user", "passwd", "--username", "LI.SI", "--password-stdin"],
        "second-password-2\n",
    );
    assert!(ok, "{out}");
    assert_eq!(
        app.get_as(&token, "/api/v1/auth/me").await.status(),
        401,
        "old token ended"
    );
    assert_eq!(app.login("li.si", "first-password-1").await.status(), 401);
    assert_eq!(app.login("li.si", "second-password-2").await.status(), 200);

    let mut conn = app.conn().await;
    let id = me["id"].to_string();
    let audit = db::audit::for_entity(&mut conn, "user", &id).await.unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.actor_label.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![("user.create", "cli"), ("user.set_password", "cli")]
    );
}

#[tokio::test]
async fn merchant_login_by_uscc_and_regions_load() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let shop = app.merchant_in("513225").await;
    let (ok, out) = run(
        &url,
        &[
            "user",
            "create",
            "--username",
            "jzg-shop",
            "--role",
            "merchant",
            "--merchant",
            &shop.uscc.to_lowercase(),
            "--password-stdin",
        ],
        "shop-password-1\n",
    );
    assert!(ok, "{out}");
    let resp = app.login("jzg-shop", "shop-password-1").await;
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me: Value = app
        .get_as(&token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["merchant_id"], shop.id);

    // the shipped CSV of the seed prefecture is the migration's seed: loading it changes nothing
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/regions-513200.csv");
    let before: Vec<Value> = app.get_json("/api/v1/regions").await;
    let (ok, out) = run(&url, &["regions", "load", seed], "");
    assert!(ok && out.contains("loaded 14 regions"), "{out}");
    let after: Vec<Value> = app.get_json("/api/v1/regions").await;
    assert_eq!(before, after);

    // another prefecture, loaded as data
    let dir = std::env::temp_dir().join(format!("{}-regions.csv", app.schema));
    std::fs::write(
        &dir,
        "code,name,parent_code\n513300,甘孜藏族自治州,\n513301,康定市,513300\n",
    )
    .unwrap();
    let (ok, out) = run(&url, &["regions", "load", dir.to_str().unwrap()], "");
    assert!(ok, "{out}");
    let regions: Vec<Value> = app.get_json("/api/v1/regions").await;
    assert_eq!(regions.len(), 16);
    assert!(regions
        .iter()
        .any(|r| r["code"] == "513301" && r["parent_code"] == "513300"));

    // a bad row loads nothing
    std::fs::write(
        &dir,
        "code,name,parent_code\n513400,凉山彝族自治州,\n51340X,坏,513400\n",
    )
    .unwrap();
    let (ok, out) = run(&url, &["regions", "load", dir.to_str().unwrap()], "");
    assert!(!ok && out.contains("line 3"), "{out}");
    let n = app.get_json::<Vec<Value>>("/api/v1/regions").await.len();
    assert_eq!(n, 16);
    let _ = std::fs::remove_file(dir);
}

#[tokio::test]
async fn import_from_the_command_line_shares_the_rules() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let dir = std::env::temp_dir().join(format!("ydym-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join(format!(
        "good-{}.csv",
        app.redis_prefix.trim_end_matches(':')
    ));
    let u = crate::helpers::uscc_for("513230", 77);
    std::fs::write(&good, format!("uscc,name,category\n{u},壤塘书店,retail\n")).unwrap();
    let bad = dir.join(format!(
        "bad-{}.csv",
        app.redis_prefix.trim_end_matches(':')
    ));
    std::fs::write(
        &bad,
        format!(
            "uscc,name\n{},甲\n12345,乙\n",
            crate::helpers::uscc_for("513230", 78)
        ),
    )
    .unwrap();
    let count = || async {
        let mut conn = app.conn().await;
        db::merchants::by_usccs(&mut conn, std::slice::from_ref(&u))
            .await
            .unwrap()
            .len()
    };

    let (ok, out) = run(&url, &["import", good.to_str().unwrap(), "--dry-run"], "");
    assert!(ok, "{out}");
    assert!(
        out.contains("\"created\": 1") && out.contains("dry run"),
        "{out}"
    );
    assert_eq!(count().await, 0);

    let (ok, out) = run(&url, &["import", bad.to_str().unwrap()], "");
    assert!(!ok, "rejected rows exit non-zero: {out}");
    assert!(
        out.contains("\"row\": 3") && out.contains("nothing written"),
        "{out}"
    );

    let (ok, out) = run(&url, &["import", good.to_str().unwrap()], "");
    assert!(ok, "{out}");
    assert_eq!(count().await, 1);
    let _ = std::fs::remove_file(good);
    let _ = std::fs::remove_file(bad);
}

#[tokio::test]
async fn demo_loads_the_programmes_1056_merchants_and_prints_logins() {
    let app = spawn_app().await;
    let (ok, out) = run_with(
        &app.database_url,
        &["demo"],
        "",
        &[("PUBLIC_BASE_URL", &app.address)],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("shop-006") && out.contains("reg-513233"),
        "{out}"
    );
    // Every demo shop that is open (or closed for the season) has a code, and three scan
    // pages are printed to open at once: grade A, the grade-D hotel, a seasonal closure.
    let urls: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.starts_with(&format!("{}/s/", app.address)))
        .collect();
    assert_eq!(urls.len(), 3, "{out}");
    let mut pages = Vec::new();
    for url in &urls {
        let resp = app.client.get(*url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        pages.push(resp.text().await.unwrap());
    }
    assert!(pages[0].contains("class=\"g gA\"") && pages[0].contains("餐饮"));
    assert!(pages[1].contains("class=\"g gD\"") && pages[1].contains("住宿"));
    assert!(pages[2].contains("季节性歇业"));
    {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = app.conn().await;
        let without: N = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT count(*) AS n FROM merchants m WHERE status <> 'closed' AND NOT EXISTS \
                 (SELECT 1 FROM shop_codes c WHERE c.merchant_id = m.id AND c.revoked_at IS NULL)",
            ),
            &mut conn,
        )
        .await
        .unwrap();
        assert_eq!(without.n, 0, "every open demo merchant has a code");
    }
    let admin: Value = app
        .login("admin", yidianyima::demo::DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = admin["token"].as_str().unwrap();
    let page: Value = app
        .get_as(token, "/api/v1/merchants?per_page=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 1056);
    let d: Value = app
        .get_as(token, "/api/v1/merchants?grade=D")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["total"], 1);

    // The merchant login on the serious-violation list sees its own D and why.
    let shop: Value = app
        .login("shop-006", yidianyima::demo::DEMO_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let shop_token = shop["token"].as_str().unwrap();
    let me: Value = app
        .get_as(shop_token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    let own: Value = app
        .get_as(
            shop_token,
            &format!("/api/v1/merchants/{}", me["merchant_id"]),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["grade"], "D");
    assert_eq!(own["grade_reasons"][0]["code"], "serious_violation");

    // Loading again changes nothing (and points at the same pages).
    let (ok, again) = run_with(
        &app.database_url,
        &["demo"],
        "",
        &[("PUBLIC_BASE_URL", &app.address)],
    );
    assert!(ok && again.contains("not loaded"), "{again}");
    assert!(urls.iter().all(|u| again.contains(u)), "{again}");
}
