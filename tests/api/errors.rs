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

async fn allow_of(app: &crate::helpers::TestApp, method: &str, path: &str) -> String {
    let resp = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .send()
        .await
        .unwrap();
    let allow = resp
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
    assert_problem(resp, 405, "method_not_allowed").await;
    allow
}

/// A 405 says which methods the resource has (RFC 9110), the same as the spec.
#[tokio::test]
async fn method_not_allowed_lists_the_allowed_methods() {
    let app = spawn_app().await;
    assert_eq!(
        allow_of(&app, "DELETE", "/api/v1/regions").await,
        "GET, HEAD"
    );
    assert_eq!(allow_of(&app, "GET", "/api/v1/auth/login").await, "POST");
    assert_eq!(
        allow_of(&app, "PATCH", "/api/v1/merchants").await,
        "GET, HEAD, POST"
    );
    assert_eq!(
        allow_of(&app, "PUT", "/api/v1/merchants/12/qrcode").await,
        "GET, HEAD, POST, DELETE"
    );
    assert_eq!(allow_of(&app, "TRACE", "/healthz").await, "GET, HEAD");
    // outside the middlewares, the scan page too
    assert_eq!(allow_of(&app, "POST", "/s/ABCDEFGHJKMN").await, "GET, HEAD");
    // `{year}` must not swallow the fixed route: PUT is not allowed there (it was a 404)
    assert_eq!(
        allow_of(&app, "PUT", "/api/v1/calendar/add-working-days").await,
        "GET, HEAD"
    );
    // ...while a year that does not parse is still no such thing
    let resp = app
        .client
        .put(app.url("/api/v1/calendar/abc"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 404, "not_found").await;
}

/// HEAD is answered wherever GET is: the same status and headers, no body.
#[tokio::test]
async fn head_works_wherever_get_does() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reg = app.regulator(&["513201"]).await;
    let m = app.merchant_in("513201").await;
    let resp = app
        .post_as(
            &reg.token,
            &format!("/api/v1/merchants/{}/qrcode", m.id),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let code = resp.json::<serde_json::Value>().await.unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, token, status, ct) in [
        ("/healthz".to_owned(), None, 200, "application/json"),
        ("/".to_owned(), None, 200, "text/html; charset=utf-8"),
        ("/api/v1/regions".to_owned(), None, 200, "application/json"),
        (
            format!("/api/v1/merchants/{}", m.id),
            Some(&admin.token),
            200,
            "application/json",
        ),
        (format!("/s/{code}"), None, 200, "text/html; charset=utf-8"),
        (
            "/s/ABCDEFGHJKMN".to_owned(),
            None,
            404,
            "text/html; charset=utf-8",
        ),
        (
            "/api/v1/merchants/1".to_owned(),
            None,
            401,
            "application/problem+json",
        ),
    ] {
        let mut head = app.client.head(app.url(&path));
        let mut get = app.client.get(app.url(&path));
        if let Some(t) = token {
            head = head.bearer_auth(t);
            get = get.bearer_auth(t);
        }
        let head = head.send().await.unwrap();
        let get = get.send().await.unwrap();
        assert_eq!(head.status().as_u16(), status, "HEAD {path}");
        assert_eq!(get.status().as_u16(), status, "GET {path}");
        assert_eq!(head.headers()["content-type"], ct, "HEAD {path}");
        if path.starts_with("/s/") {
            assert_eq!(head.headers().get("etag"), get.headers().get("etag"));
        }
        let get_len = get.bytes().await.unwrap().len();
        assert!(get_len > 0, "GET {path} has a body");
        assert_eq!(
            head.headers()
                .get("content-length")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some(get_len.to_string()),
            "HEAD {path} announces the GET body's length"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path}: no body"
        );
    }
}
