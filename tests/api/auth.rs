use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, spawn_app_with, AppOptions};

#[tokio::test]
async fn login_ok_returns_a_working_bearer_token() {
    let app = spawn_app().await;
    let user = app.regulator(&["513230"]).await;
    let resp = app
        .login(&user.username.to_uppercase(), &user.password)
        .await;
    assert_eq!(resp.status(), 200, "usernames are case-insensitive");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["role"], "regulator");
    assert_eq!(body["expires_in"], 8 * 3600);
    let token = body["token"].as_str().unwrap();

    let me: Value = app
        .get_as(token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"id": user.id, "username": user.username, "role": "regulator",
               "region_codes": ["513230"], "merchant_id": null})
    );
}

#[tokio::test]
async fn bad_password_and_unknown_user_are_the_same_401() {
    let app = spawn_app().await;
    let user = app.admin().await;
    let a = assert_problem(
        app.login(&user.username, "wrong-password").await,
        401,
        "unauthorized",
    )
    .await;
    let b = assert_problem(
        app.login("nobody-here", "wrong-password").await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(a["detail"], b["detail"], "no user enumeration");
}

#[tokio::test]
async fn five_failures_per_username_and_ip_then_429_with_retry_after() {
    let app = spawn_app().await;
    let user = app.admin().await;
    for _ in 0..5 {
        assert_eq!(
            app.login(&user.username, "wrong-password").await.status(),
            401
        );
    }
    // now even the right password is refused until the window ends
    let resp = app.login(&user.username, &user.password).await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 14 * 60 && retry <= 15 * 60, "retry-after {retry}");
    assert_problem(resp, 429, "rate_limited").await;
    // another username from the same IP is not affected
    let other = app.admin().await;
    assert_eq!(
        app.login(&other.username, &other.password).await.status(),
        200
    );
    // X-Forwarded-For from an untrusted peer does not buy a fresh counter
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.77")
        .json(&json!({"username": user.username, "password": user.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
}

/// Check-then-count let parallel guesses through: each saw no failure yet. Counted before the
/// password is checked, at most 5 of 20 at once are evaluated (401); the rest are 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_wrong_passwords_evaluate_at_most_five() {
    let app = spawn_app().await;
    let user = app.admin().await;
    let tries = (0..20).map(|_| app.login(&user.username, "wrong-password"));
    let answers: Vec<u16> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    let evaluated = answers.iter().filter(|s| **s == 401).count();
    let refused = answers.iter().filter(|s| **s == 429).count();
    assert!(evaluated <= 5, "{evaluated} of 20 evaluated: {answers:?}");
    assert_eq!(evaluated + refused, 20, "{answers:?}");
    assert_eq!(
        app.login(&user.username, &user.password).await.status(),
        429,
        "the window is full"
    );
}

#[tokio::test]
async fn a_success_clears_earlier_failures() {
    let app = spawn_app().await;
    let user = app.admin().await;
    for _ in 0..4 {
        assert_eq!(
            app.login(&user.username, "wrong-password").await.status(),
            401
        );
    }
    assert_eq!(
        app.login(&user.username, &user.password).await.status(),
        200
    );
    for _ in 0..4 {
        assert_eq!(
            app.login(&user.username, "wrong-password").await.status(),
            401
        );
    }
    assert_eq!(
        app.login(&user.username, &user.password).await.status(),
        200
    );
}

#[tokio::test]
async fn failures_are_counted_in_redis_across_instances() {
    let a = spawn_app().await;
    let b = spawn_app_with(AppOptions {
        redis_prefix: Some(a.redis_prefix.clone()),
        ..AppOptions::default()
    })
    .await;
    let user = a.admin().await;
    for _ in 0..3 {
        assert_eq!(
            a.login(&user.username, "wrong-password").await.status(),
            401
        );
    }
    for _ in 0..2 {
        assert_eq!(
            b.login(&user.username, "wrong-password").await.status(),
            401
        );
    }
    // b has its own schema, so the user does not even exist there; the limit still applies
    assert_eq!(
        b.login(&user.username, "wrong-password").await.status(),
        429
    );
    assert_eq!(a.login(&user.username, &user.password).await.status(), 429);
}

#[tokio::test]
async fn rate_limit_falls_back_to_process_memory_without_redis() {
    let app = spawn_app_with(AppOptions {
        redis_url: Some("redis://127.0.0.1:1".into()),
        ..AppOptions::default()
    })
    .await;
    let user = app.admin().await;
    for _ in 0..5 {
        assert_eq!(
            app.login(&user.username, "wrong-password").await.status(),
            401
        );
    }
    assert_eq!(
        app.login(&user.username, &user.password).await.status(),
        429
    );
}

fn forge(secret: &str, alg: Algorithm, sub: i64, iat: i64, exp: i64) -> String {
    encode(
        &Header::new(alg),
        &json!({"sub": sub.to_string(), "role": "admin", "iat": iat, "exp": exp}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn expired_tampered_foreign_and_alg_none_tokens_are_401() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let secret = app.state.settings.jwt_secret.expose().to_owned();
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        app.get_as(&admin.token, "/api/v1/auth/me").await.status(),
        200
    );
    let valid = forge(&secret, Algorithm::HS256, admin.id, now, now + 600);
    assert_eq!(
        app.get_as(&valid, "/api/v1/auth/me").await.status(),
        200,
        "forge() is sound"
    );

    let expired = forge(
        &secret,
        Algorithm::HS256,
        admin.id,
        now - 9 * 3600,
        now - 3600,
    );
    let resp = app.get_as(&expired, "/api/v1/auth/me").await;
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_problem(resp, 401, "unauthorized").await;

    // change the payload (sub) but keep the signature
    let parts: Vec<&str> = valid.split('.').collect();
    let other_payload = b64url(
        json!({"sub": (admin.id + 1).to_string(), "role": "admin", "iat": now, "exp": now + 600})
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    assert_problem(
        app.get_as(&tampered, "/api/v1/auth/me").await,
        401,
        "unauthorized",
    )
    .await;

    let foreign = forge(
        "another-secret-of-at-least-32-bytes!!",
        Algorithm::HS256,
        admin.id,
        now,
        now + 600,
    );
    assert_problem(
        app.get_as(&foreign, "/api/v1/auth/me").await,
        401,
        "unauthorized",
    )
    .await;

    let hs512 = forge(&secret, Algorithm::HS512, admin.id, now, now + 600);
    assert_problem(
        app.get_as(&hs512, "/api/v1/auth/me").await,
        401,
        "unauthorized",
    )
    .await;

    let none = format!("{}.{}.", b64url(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    assert_problem(
        app.get_as(&none, "/api/v1/auth/me").await,
        401,
        "unauthorized",
    )
    .await;

    let resp = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 401, "unauthorized").await;
    assert_problem(
        app.get_as("not-a-jwt", "/api/v1/auth/me").await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn a_password_change_ends_earlier_tokens() {
    let app = spawn_app().await;
    let user = app.regulator(&["513200"]).await;
    // the token from the fixture was issued "now"; make the change clearly later
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let hash = yidianyima::auth::password::hash("a-brand-new-password").unwrap();
    let mut conn = app.conn().await;
    yidianyima::db::users::set_password_audited(
        &mut conn,
        &yidianyima::db::audit::Actor::cli(),
        user.id,
        &hash,
    )
    .await
    .unwrap();
    assert_problem(
        app.get_as(&user.token, "/api/v1/auth/me").await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.login(&user.username, &user.password).await.status(),
        401
    );
    let resp = app.login(&user.username, "a-brand-new-password").await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get_as(&token, "/api/v1/auth/me").await.status(), 200);
}

#[tokio::test]
async fn changing_ones_password_ends_old_tokens() {
    use serde_json::json;
    let app = crate::helpers::spawn_app().await;
    let reg = app.regulator(&["513230"]).await;
    let r = app
        .post_as(
            &reg.token,
            "/api/v1/auth/password",
            &json!({"current_password": "wrong one", "new_password": "a new long secret"}),
        )
        .await;
    crate::helpers::assert_field_error(r, "current_password", "wrong_password").await;
    let r = app
        .post_as(
            &reg.token,
            "/api/v1/auth/password",
            &json!({"current_password": reg.password, "new_password": "short"}),
        )
        .await;
    crate::helpers::assert_field_error(r, "new_password", "too_short").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = app
        .post_as(
            &reg.token,
            "/api/v1/auth/password",
            &json!({"current_password": reg.password, "new_password": "a new long secret"}),
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        app.get_as(&reg.token, "/api/v1/auth/me").await.status(),
        401
    );
    assert_eq!(
        app.login(&reg.username, "a new long secret").await.status(),
        200
    );
}
