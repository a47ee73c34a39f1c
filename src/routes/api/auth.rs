//! Login and the caller's identity.

use actix_web::{get, post, web, HttpRequest};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::domain::user::Role;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::client_ip;
use crate::service;
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
    let ip = client_ip(&req, &state.settings.trusted_proxies)
        .map(crate::routes::rate_limit_key)
        .unwrap_or_default();
    let (user, role) =
        service::auth::authenticate(&state, &body.username, body.password, &ip).await?;
    let token = state.jwt.issue(user.id, role, Utc::now())?;
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
