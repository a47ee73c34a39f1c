use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(r#"{"username": "a", "password": "#)
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 400, "malformed_json").await;
    assert!(body["detail"].as_str().unwrap().contains("EOF"));

    // well-formed but missing a field
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "a"}))
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 400, "malformed_json").await;
    assert!(
        body["detail"].as_str().unwrap().contains("password"),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_route_wrong_method_wrong_media_type_and_too_large() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;
    let resp = app
        .client
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;

    let resp = app
        .client
        .delete(app.url("/api/v1/regions"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 405, "method_not_allowed").await;
    let resp = app
        .client
        .get(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 405, "method_not_allowed").await;
    // The scan page sits outside the middlewares; a wrong method still gets the problem.
    let resp = app
        .client
        .post(app.url("/s/ABCDEFGHJKMN"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 405, "method_not_allowed").await;

    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415, "unsupported_media_type").await;

    // 1 MiB + 1 byte of JSON
    let big = format!(
        r#"{{"username": "a", "password": "{}"}}"#,
        "x".repeat(1 << 20)
    );
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413, "payload_too_large").await;
}

#[tokio::test]
async fn bad_query_and_path_parameters() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/api/v1/calendar/add-working-days?from=yesterday&days=3"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 400, "invalid_query").await;
    let resp = app
        .client
        .get(app.url("/api/v1/calendar/abc"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;
    let resp = app
        .client
        .get(app.url("/api/v1/calendar/1900"))
        .send()
        .await
        .unwrap();
    let body = assert_problem(resp, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "year");
}
