use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, AppOptions};

#[tokio::test]
async fn healthz_and_readyz_with_everything_up() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["postgres"]["status"], "up");
    assert_eq!(body["redis"]["status"], "up");
}

#[tokio::test]
async fn readyz_is_200_with_redis_unreachable_and_says_so() {
    let app = spawn_app_with(AppOptions {
        redis_url: Some("redis://127.0.0.1:1".into()),
        ..AppOptions::default()
    })
    .await;
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["postgres"]["status"], "up");
    assert_eq!(body["redis"]["status"], "down");
    // and the API keeps working
    let admin = app.admin().await;
    assert_eq!(
        app.login(&admin.username, &admin.password).await.status(),
        200
    );
}

#[tokio::test]
async fn readyz_without_redis_configured_reports_disabled() {
    let app = spawn_app_with(AppOptions {
        redis_url: None,
        ..AppOptions::default()
    })
    .await;
    let body: Value = app.get_json("/readyz").await;
    assert_eq!(body["redis"]["status"], "disabled");
}

#[tokio::test]
async fn readyz_is_503_when_postgres_is_unreachable() {
    let app = spawn_app_with(AppOptions {
        database_url: Some("postgres://postgres:secret-pw@127.0.0.1:1/none".into()),
        migrate: false,
        ..AppOptions::default()
    })
    .await;
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let text = resp.text().await.unwrap();
    assert!(!text.contains("secret-pw"), "no credentials leak: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["postgres"]["status"], "down");
    // the API answers 503 problem+json, not 500
    let resp = app.login("anyone", "whatever-pw").await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    // liveness is unaffected
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_on_their_own_listener() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.client
            .get(app.url("/api/v1/regions"))
            .send()
            .await
            .unwrap();
    }
    // Not on the public listener.
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let metrics = format!("{}/metrics", app.metrics_address);
    let resp = app.client.get(&metrics).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("yidianyima_http_requests_total")
                && l.contains("endpoint=\"/api/v1/regions\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no counter for /api/v1/regions in\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(text.contains("yidianyima_http_requests_duration_seconds_bucket"));
    // The scan page is timed by its own histogram, not the per-route middleware.
    let resp = app
        .client
        .get(app.url("/s/ABCDEFGHJKMN"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let text = app.get_text(&metrics).await;
    let count = text
        .lines()
        .find(|l| l.starts_with("yidianyima_scan_page_seconds_count"))
        .unwrap_or_else(|| panic!("no scan-page histogram in\n{text}"));
    assert!(!count.ends_with(" 0"), "{count}");
    assert!(!text.contains("endpoint=\"/s/{code}\""));
    // The pool's state and waits, for load tests and dashboards.
    assert!(
        text.contains("yidianyima_db_pool{state=\"max\"} 4"),
        "no pool gauge in\n{text}"
    );
    assert!(text.contains("yidianyima_db_pool{state=\"waiting\"}"));
    assert!(text.contains("yidianyima_db_pool_timeouts_total"));
}

#[tokio::test]
async fn openapi_documents_every_route_and_swagger_ui_is_served_offline() {
    let app = spawn_app().await;
    let spec: Value = app.get_json("/openapi.json").await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/regions", "get"),
        ("/api/v1/calendar/{year}", "get"),
        ("/api/v1/calendar/{year}", "put"),
        ("/api/v1/calendar/add-working-days", "get"),
        ("/api/v1/settings/complaint-deadlines", "get"),
        (
            "/api/v1/settings/complaint-deadlines/{effective_from}",
            "put",
        ),
        ("/api/v1/merchants", "get"),
        ("/api/v1/merchants", "post"),
        ("/api/v1/merchants/{id}", "get"),
        ("/api/v1/merchants/{id}", "patch"),
        ("/api/v1/merchants/{id}/licences", "get"),
        ("/api/v1/merchants/{id}/licences", "post"),
        ("/api/v1/merchants/{id}/inspections", "get"),
        ("/api/v1/merchants/{id}/inspections", "post"),
        ("/api/v1/merchants/{id}/credit-records", "get"),
        ("/api/v1/merchants/{id}/credit-records", "post"),
        ("/api/v1/merchants/{id}/photos", "post"),
        ("/api/v1/imports", "post"),
        ("/media/photos/{id}.jpg", "get"),
        ("/media/photos/{id}/thumb.jpg", "get"),
        ("/api/v1/merchants/{id}/qrcode", "post"),
        ("/api/v1/merchants/{id}/qrcode", "delete"),
        ("/api/v1/merchants/{id}/qrcode", "get"),
        ("/api/v1/merchants/{id}/qrcode.png", "get"),
        ("/api/v1/merchants/{id}/qrcode.svg", "get"),
        ("/api/v1/regions/{code}/qrcodes", "post"),
        ("/api/v1/regions/{code}/qrcodes.zip", "get"),
        ("/api/v1/merchants/{id}/poster.svg", "get"),
        ("/api/v1/merchants/{id}/poster.png", "get"),
        ("/s/{code}", "get"),
        ("/api/v1/merchants/{id}/scans", "get"),
        ("/s/{code}/complaint", "get"),
        ("/s/{code}/complaint", "post"),
        ("/track", "get"),
        ("/track", "post"),
        ("/api/v1/public/complaints", "post"),
        ("/api/v1/public/complaints/{tracking_no}", "get"),
        ("/api/v1/public/complaints/{tracking_no}/confirm", "post"),
        ("/api/v1/public/complaints/{tracking_no}/rating", "post"),
        ("/api/v1/public/complaints/{tracking_no}/withdraw", "post"),
        ("/api/v1/public/warnings", "get"),
        ("/api/v1/complaints", "get"),
        ("/api/v1/complaints/{id}", "get"),
        ("/api/v1/complaints/{id}/actions", "post"),
        ("/api/v1/warnings", "post"),
        ("/api/v1/stats", "get"),
        ("/api/v1/stats.csv", "get"),
        ("/api/v1/stats.xlsx", "get"),
        ("/api/v1/public/shops/{code}", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    let resp = app
        .client
        .get(app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger"), "Swagger UI page");
    assert!(
        !html.contains("https://"),
        "no external resources in the Swagger UI page"
    );
}

#[tokio::test]
async fn regions_are_the_seeded_prefecture_and_its_thirteen_counties() {
    let app = spawn_app().await;
    let regions: Vec<Value> = app.get_json("/api/v1/regions").await;
    assert_eq!(regions.len(), 14);
    assert_eq!(regions[0]["code"], "513200");
    assert_eq!(regions[0]["name"], "阿坝藏族羌族自治州");
    let counties: Vec<&Value> = regions
        .iter()
        .filter(|r| r["parent_code"] == "513200")
        .collect();
    assert_eq!(counties.len(), 13);
    assert!(regions
        .iter()
        .any(|r| r["code"] == "513225" && r["name"] == "九寨沟县"));
}

#[tokio::test]
async fn the_landing_page_is_bilingual_html_without_external_resources() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = resp.text().await.unwrap();
    assert!(html.contains("一店一码") && html.contains("One shop, one code"));
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "self-contained"
    );
}

/// A clone stands on its own: nothing in it points at files outside the repository.
#[test]
fn nothing_points_outside_the_repository() {
    fn walk(dir: &std::path::Path, hits: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            if path.is_dir() {
                walk(&path, hits);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let needle = ["..", "/shared/"].concat();
                if text.contains(&needle) {
                    hits.push(path.display().to_string());
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut hits = Vec::new();
    for sub in [
        "README.md",
        "docs",
        "src",
        "bench",
        "templates",
        "assets",
        ".ci",
    ] {
        let p = root.join(sub);
        if p.is_dir() {
            walk(&p, &mut hits);
        } else if std::fs::read_to_string(&p)
            .is_ok_and(|t| t.contains(&["..", "/shared/"].concat()))
        {
            hits.push(p.display().to_string());
        }
    }
    assert!(hits.is_empty(), "{hits:?}");
}
