use serde_json::json;

use crate::helpers::{assert_field_error, assert_problem, spawn_app};

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

    // an empty body and a body that is not JSON at all are malformed too
    for raw in ["", "not json", "{\"username\": }"] {
        let resp = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_problem(resp, 400, "malformed_json").await;
    }
}

/// Well-formed JSON that does not fit the request: 422 naming the field (not a 400).
#[tokio::test]
async fn missing_unknown_and_mistyped_fields_are_422_naming_the_field() {
    let app = spawn_app().await;
    let login = |body: serde_json::Value| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&body)
            .send()
    };
    let resp = login(json!({"username": "a"})).await.unwrap();
    let body = assert_field_error(resp, "password", "required").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
    let resp = login(json!({"username": "a", "password": "b", "remember": true}))
        .await
        .unwrap();
    assert_field_error(resp, "remember", "unknown_field").await;
    let resp = login(json!({"username": 5, "password": "b"}))
        .await
        .unwrap();
    assert_field_error(resp, "username", "invalid_type").await;
    // serde would take a struct's fields as an array in order; the API takes objects only
    let resp = login(json!(["admin", "pw"])).await.unwrap();
    assert_field_error(resp, "body", "invalid_type").await;

    // nested: the path to the element
    let admin = app.admin().await;
    let resp = app
        .put_as(
            &admin.token,
            "/api/v1/calendar/2031",
            &json!({"holidays": ["2031-01-01", 7], "workdays": []}),
        )
        .await;
    assert_field_error(resp, "holidays[1]", "invalid_type").await;
    let resp = app
        .put_as(
            &admin.token,
            "/api/v1/calendar/2031",
            &json!({"holidays": [], "workdays": [], "year": 2031}),
        )
        .await;
    assert_field_error(resp, "year", "unknown_field").await;
    let resp = app
        .post_as(
            &admin.token,
            "/api/v1/merchants",
            &json!({"uscc": "92513201MA6A000000", "name": "x", "opening_months": ["May"]}),
        )
        .await;
    assert_field_error(resp, "opening_months[0]", "invalid_type").await;
    // PATCH takes an object of fields
    let resp = app
        .patch_as(&admin.token, "/api/v1/merchants/1", &json!(["phone"]))
        .await;
    assert_field_error(resp, "body", "invalid_type").await;
    // JSON has one number type: 3.0 is the integer 3
    let resp = app
        .put_as(
            &admin.token,
            "/api/v1/settings/complaint-deadlines/2031-01-01",
            &json!({"accept_working_days": 7.0, "conclude_working_days": 45,
                    "green_channel_working_days": 10}),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let resp = app
        .put_as(
            &admin.token,
            "/api/v1/settings/complaint-deadlines/2031-01-01",
            &json!({"accept_working_days": 7.5, "conclude_working_days": 45,
                    "green_channel_working_days": 10}),
        )
        .await;
    assert_field_error(resp, "accept_working_days", "invalid_type").await;
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
    assert_field_error(resp, "from", "invalid_value").await;
    let resp = app
        .client
        .get(app.url("/api/v1/calendar/add-working-days?from=2026-01-05&days=three"))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "days", "invalid_type").await;
    let resp = app
        .client
        .get(app.url("/api/v1/calendar/add-working-days?from=2026-01-05"))
        .send()
        .await
        .unwrap();
    assert_field_error(resp, "days", "required").await;
    let resp = app
        .client
        .get(app.url("/api/v1/public/warnings?region=513201&per_page=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "an unknown parameter is ignored"
    );
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
