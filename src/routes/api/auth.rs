//! Login and the caller's identity.

use actix_web::{get, post, web, HttpRequest};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{password, CurrentUser};
use crate::cache::limits::LOGIN_FAILURES;
use crate::db;
use crate::domain::user::Role;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::Json;
use crate::routes::client_ip;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    pub role: Role,
}

/// Longest password a login will hash (bounds the work an attacker can ask for).
const MAX_LOGIN_PASSWORD_CHARS: usize = 1024;

/// Log in with username and password. Five failures for one username from one client IP within
/// 15 minutes block further attempts (429 with `Retry-After`) until the window ends.
#[utoipa::path(operation_id = "login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json"),
))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> AppResult<web::Json<LoginResponse>> {
    let body = body.into_inner();
    let username: String = body
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    let ip = client_ip(&req, &state.settings.trusted_proxies)
        .map(crate::routes::rate_limit_key)
        .unwrap_or_default();
    let limit_key = format!("{username}|{ip}");
    if let Some(retry_after_secs) = state.limiter.blocked(&LOGIN_FAILURES, &limit_key).await {
        tracing::warn!(%username, %ip, "login rate limited");
        return Err(AppError::RateLimited { retry_after_secs });
    }

    let user = {
        let mut conn = state.pool.get().await?;
        db::users::find_by_username(&mut conn, &username).await?
    };
    let pw = body.password;
    let verified = match &user {
        Some(u) if !u.disabled && pw.chars().count() <= MAX_LOGIN_PASSWORD_CHARS => {
            let stored = u.password_hash.clone();
            web::block(move || password::verify(&pw, &stored)).await?
        }
        _ => {
            web::block(move || password::verify_dummy(&pw)).await?;
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        let failures = state.limiter.hit(&LOGIN_FAILURES, &limit_key).await;
        tracing::info!(%username, %ip, failures, "login failed");
        return Err(AppError::Unauthorized("wrong username or password"));
    };
    state.limiter.reset(&LOGIN_FAILURES, &limit_key).await;
    let role: Role = user
        .role
        .parse()
        .map_err(|_| anyhow::anyhow!("user {} has unknown role {}", user.id, user.role))?;
    let token = state.jwt.issue(user.id, role, Utc::now())?;
    tracing::info!(user_id = user.id, %ip, "login");
    Ok(web::Json(LoginResponse {
        token,
        token_type: "Bearer".to_owned(),
        expires_in: state.jwt.ttl.as_secs(),
        role,
    }))
}

/// The caller.
#[utoipa::path(operation_id = "get_current_user", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = CurrentUser),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/auth/me")]
pub async fn me(user: CurrentUser) -> web::Json<CurrentUser> {
    web::Json(user)
}
