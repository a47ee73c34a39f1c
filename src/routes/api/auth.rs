//! Login and the caller's identity.

use actix_web::{get, post, web, HttpRequest};

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::client_ip;
use crate::service::users;
use crate::state::AppState;

pub use crate::service::users::{LoginRequest, LoginResponse};

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
    let ip = client_ip(&req, &state.settings.trusted_proxies)
        .map(crate::routes::rate_limit_key)
        .unwrap_or_default();
    Ok(web::Json(users::login(&state, &ip, &body).await?))
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

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    pub current_password: String,
    /// 8–128 characters, different from the current one.
    pub new_password: String,
}

/// Change one's own password. Every token and console session issued before it ends (log in
/// again for a new token). Audited (never the password).
#[utoipa::path(operation_id = "change_own_password", tag = "auth", security(("bearer" = [])), request_body = PasswordChangeRequest, responses(
    (status = 204),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    body: Json<PasswordChangeRequest>,
) -> AppResult<actix_web::HttpResponse> {
    let body = body.into_inner();
    let actor = crate::routes::actor(&user, &req, &state.settings.trusted_proxies);
    crate::service::account::change_password(
        &state,
        &user,
        actor,
        crate::service::account::PasswordChange {
            current_password: body.current_password,
            new_password: body.new_password,
        },
    )
    .await?;
    Ok(actix_web::HttpResponse::NoContent().finish())
}
