//! The scan page's cache: validators, encodings, invalidation after every kind of write (also
//! across instances), and degradation when Redis or PostgreSQL is down.

use std::io::Read;

use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, AppOptions, TestApp, TestUser};

async fn with_code(app: &TestApp, reg: &TestUser) -> (i64, String) {
    let shop = app.merchant_in("513230").await;
    let code: Value = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/qrcode", shop.id),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    (shop.id, code["code"].as_str().unwrap().to_owned())
}

async fn html(app: &TestApp, code: &str) -> (u16, String) {
    let resp = app
        .client
        .get(app.url(&format!("/s/{code}")))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn png() -> Vec<u8> {
    use image::ImageEncoder;
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([10, 120, 40]));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), 64, 48, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[tokio::test]
async fn etag_304_and_precompressed_encodings() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let (_, code) = with_code(&app, &reg).await;
    let url = app.url(&format!("/s/{code}"));
    let first = app.client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let cc = first.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cc.contains("max-age") && cc.contains("stale-while-revalidate"),
        "{cc}"
    );
    let plain = first.text().await.unwrap();

    let resp = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert!(resp.bytes().await.unwrap().is_empty());

    let gz = app
        .client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let gz_etag = gz.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gz_etag, etag, "each encoding its own validator");
    let mut out = String::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    let br = app
        .client
        .get(&url)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    let mut out = String::new();
    brotli::Decompressor::new(&br.bytes().await.unwrap()[..], 4096)
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, plain);
    let resp = app
        .client
        .get(&url)
        .header("accept-encoding", "br")
        .header("if-none-match", &gz_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        304,
        "a validator of any encoding of the same page matches"
    );

    let resp = app
        .client
        .get(&url)
        .header("accept-encoding", "br;q=0, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn every_kind_of_write_shows_on_the_next_request() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let (id, code) = with_code(&app, &reg).await;
    let base = format!("/api/v1/merchants/{id}");
    let today = yidianyima::domain::time::china_date(chrono::Utc::now()).to_string();
    assert_eq!(html(&app, &code).await.0, 200); // now cached

    let resp = app
        .patch_as(&reg.token, &base, &json!({"name": "改过名的饭店"}))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        html(&app, &code).await.1.contains("改过名的饭店"),
        "merchant"
    );

    for (path, body, needle) in [
        (
            "licences",
            json!({"kind": "food_business", "number": "JY-CACHE-1", "issuer": "壤塘县",
            "valid_from": "2020-01-01"}),
            "JY-CACHE-1",
        ),
        (
            "inspections",
            json!({"kind": "routine", "inspected_on": today, "department": "检查所甲",
            "result": "pass"}),
            "检查所甲",
        ),
        (
            "credit-records",
            json!({"kind": "penalty", "department": "处罚机关乙", "decision_no": "罚-1",
            "decided_on": today}),
            "处罚机关乙",
        ),
    ] {
        let resp = app
            .post_as(&reg.token, &format!("{base}/{path}"), &body)
            .await;
        assert_eq!(resp.status(), 201);
        assert!(html(&app, &code).await.1.contains(needle), "{path}");
    }
    let json: Value = app.get_json(&format!("/api/v1/public/shops/{code}")).await;
    assert_eq!(json["grade"], "C");

    let resp = app
        .upload_as(
            &reg.token,
            &format!("{base}/photos"),
            "s.png",
            png(),
            &[("kind", "storefront")],
        )
        .await;
    let photo: Value = resp.json().await.unwrap();
    assert!(
        html(&app, &code)
            .await
            .1
            .contains(photo["thumb_url"].as_str().unwrap()),
        "photo"
    );

    // Re-issue: the old page turns 410 at once; revoke: the new one too.
    let second: Value = app
        .post_as(&reg.token, &format!("{base}/qrcode"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(html(&app, &code).await.0, 410);
    let new_code = second["code"].as_str().unwrap().to_owned();
    assert_eq!(html(&app, &new_code).await.0, 200);
    app.client
        .delete(app.url(&format!("{base}/qrcode")))
        .bearer_auth(&reg.token)
        .send()
        .await
        .unwrap();
    assert_eq!(html(&app, &new_code).await.0, 410);

    // An import that updates the merchant.
    let (id2, code2) = with_code(&app, &reg).await;
    assert_eq!(html(&app, &code2).await.0, 200);
    let m: Value = app
        .get_as(&reg.token, &format!("/api/v1/merchants/{id2}"))
        .await
        .json()
        .await
        .unwrap();
    let csv = format!("uscc,name\n{},导入改名商户\n", m["uscc"].as_str().unwrap());
    let resp = app
        .upload_as(
            &reg.token,
            "/api/v1/imports",
            "u.csv",
            csv.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        html(&app, &code2).await.1.contains("导入改名商户"),
        "import"
    );
}

#[tokio::test]
async fn two_instances_sharing_redis_see_each_others_writes() {
    let a = spawn_app().await;
    let b = spawn_app_with(AppOptions {
        database_url: Some(a.database_url.clone()),
        redis_prefix: Some(a.redis_prefix.clone()),
        ..AppOptions::default()
    })
    .await;
    let reg = a.regulator(&["513230"]).await;
    let (id, code) = with_code(&a, &reg).await;
    // Both have the page in memory.
    assert_eq!(html(&a, &code).await.0, 200);
    assert_eq!(html(&b, &code).await.0, 200);
    // A write through b (tokens are per instance here: each test app has its own key)…
    let token_b = b.token_for(&reg, yidianyima::domain::user::Role::Regulator);
    let resp = b
        .patch_as(
            &token_b,
            &format!("/api/v1/merchants/{id}"),
            &json!({"name": "乙实例改名"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // …shows on a's next request.
    assert!(html(&a, &code).await.1.contains("乙实例改名"));
}

#[tokio::test]
async fn redis_down_pages_still_served() {
    let app = spawn_app_with(AppOptions {
        redis_url: Some("redis://127.0.0.1:1".into()),
        ..AppOptions::default()
    })
    .await;
    let reg = app.regulator(&["513230"]).await;
    let (id, code) = with_code(&app, &reg).await;
    assert_eq!(html(&app, &code).await.0, 200);
    app.patch_as(
        &reg.token,
        &format!("/api/v1/merchants/{id}"),
        &json!({"name": "无缓存也更新"}),
    )
    .await;
    let (status, body) = html(&app, &code).await;
    assert_eq!(status, 200);
    assert!(body.contains("无缓存也更新"));
}

#[tokio::test]
async fn database_down_cached_pages_served_uncached_503() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let (_, cached) = with_code(&app, &reg).await;
    let (_, cold) = with_code(&app, &reg).await;
    assert_eq!(html(&app, &cached).await.0, 200);
    // The database loses the tables (as good as down for these queries).
    let mut conn = app.conn().await;
    diesel::sql_query("ALTER TABLE merchants RENAME TO merchants_gone")
        .execute(&mut conn)
        .await
        .unwrap();
    let (status, body) = html(&app, &cached).await;
    assert_eq!(status, 200);
    assert!(body.contains("信用等级"));
    let resp = app
        .client
        .get(app.url(&format!("/s/{cold}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(resp.text().await.unwrap().contains("服务繁忙"));
    diesel::sql_query("ALTER TABLE merchants_gone RENAME TO merchants")
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn scans_are_counted_without_a_write_each_and_shown_to_regulators() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let (id, code) = with_code(&app, &reg).await;
    for _ in 0..3 {
        assert_eq!(html(&app, &code).await.0, 200);
    }
    let path = format!("/api/v1/merchants/{id}/scans");
    // Nothing written yet: counts are in memory until the flush.
    let before: Value = app.get_as(&reg.token, &path).await.json().await.unwrap();
    assert_eq!(before["total"], 0);
    app.state.scans.flush(&app.state.pool).await.unwrap();
    assert_eq!(html(&app, &code).await.0, 200);
    app.state.scans.flush(&app.state.pool).await.unwrap();
    let after: Value = app.get_as(&reg.token, &path).await.json().await.unwrap();
    assert_eq!(after["total"], 4);
    assert_eq!(after["days"][0]["count"], 4);
    let owner = app
        .user(yidianyima::domain::user::Role::Merchant, &[], Some(id))
        .await;
    assert_eq!(app.get_as(&owner.token, &path).await.status(), 200);
    let other = app.regulator(&["513231"]).await;
    assert_eq!(app.get_as(&other.token, &path).await.status(), 404);
}

#[tokio::test]
async fn a_page_expires_when_its_content_changes_by_time() {
    let app = spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let (id, code) = with_code(&app, &reg).await;
    let today = yidianyima::domain::time::china_date(chrono::Utc::now());
    // A licence valid through today: tomorrow the page must say "expired".
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{id}/licences"),
            &json!({"kind": "food_business", "number": "JY-EXPIRES", "issuer": "壤塘县",
                    "valid_from": "2021-01-01", "valid_until": today.to_string()}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(html(&app, &code).await.0, 200);
    let cached = app
        .state
        .pages
        .get_any(&yidianyima::cache::pages::page_key(&code, "zh"))
        .await
        .expect("cached");
    let tomorrow_midnight_china = today
        .succ_opt()
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(yidianyima::domain::time::china_offset())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(cached.fresh_until, tomorrow_midnight_china);
    assert!(!cached.is_fresh(tomorrow_midnight_china));
    assert!(cached.is_fresh(tomorrow_midnight_china - chrono::Duration::seconds(1)));
}

#[tokio::test]
async fn two_instances_see_warnings_and_complaint_figures() {
    let a = spawn_app().await;
    let b = spawn_app_with(AppOptions {
        database_url: Some(a.database_url.clone()),
        redis_prefix: Some(a.redis_prefix.clone()),
        ..AppOptions::default()
    })
    .await;
    let reg = a.regulator(&["513230"]).await;
    let (_, code) = with_code(&a, &reg).await;
    let (_, code2) = with_code(&a, &reg).await;
    assert!(!html(&a, &code).await.1.contains("冬季道路提示"));
    assert!(!html(&a, &code2).await.1.contains("冬季道路提示"));
    let token_b = b.token_for(&reg, yidianyima::domain::user::Role::Regulator);
    // A warning published through b shows on every matching page a has cached.
    let until = (yidianyima::domain::time::china_date(chrono::Utc::now()) + chrono::Days::new(10))
        .to_string();
    let resp = b
        .post_as(
            &token_b,
            "/api/v1/warnings",
            &json!({"region_code": "513230", "title": "冬季道路提示", "body": "山路结冰，请合理安排行程。", "valid_until": until}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert!(html(&a, &code).await.1.contains("冬季道路提示"));
    assert!(html(&a, &code2).await.1.contains("冬季道路提示"));
    // Five complaints filed through b, one resolved through b: a's page shows the figures.
    let mut ids = Vec::new();
    for i in 0..5 {
        let phone = format!("1350000000{i}");
        ids.push(crate::complaints::file(&b, &code, &phone).await.1);
    }
    assert!(html(&a, &code).await.1.contains("<b>5</b>"));
    for action in ["accept", "resolve"] {
        let r = b
            .post_as(
                &token_b,
                &format!("/api/v1/complaints/{}/actions", ids[0]),
                &json!({"action": action}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    assert!(html(&a, &code).await.1.contains("<b>20%</b>"));
}
