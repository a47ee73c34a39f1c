//! Accounts.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
use crate::service::paging::{Page, PageQuery};
use crate::service::users as svc;
use crate::state::AppState;

pub use crate::service::users::{CreateUserRequest, UserView};

/// Create an account. Admins create any; a regulator creates merchant logins for merchants in
/// its jurisdiction (404 for a merchant outside it). Audited.
#[utoipa::path(operation_id = "create_user", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest, responses(
    (status = 201, body = UserView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "username taken"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/users")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    body: Json<CreateUserRequest>,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let view = svc::create(&state, &user, actor, &body).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", view.id)))
        .json(view))
}

/// One account: oneself; admins any; regulators the merchant logins of merchants in their
/// jurisdiction (404 otherwise).
#[utoipa::path(operation_id = "get_user", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = UserView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/users/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<UserView>> {
    Ok(web::Json(svc::get(&state, &user, path.into_inner()).await?))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct UserListQuery {
    /// Part of the username.
    pub q: Option<String>,
    /// `admin`, `regulator` or `merchant`.
    #[param(inline, value_type = Option<crate::domain::user::Role>)]
    pub role: Option<String>,
}

/// Accounts the caller administers: admins all; regulators the merchant logins of merchants in
/// their jurisdiction. By username.
#[utoipa::path(operation_id = "list_users", tag = "users", security(("bearer" = [])), params(UserListQuery, PageQuery), responses(
    (status = 200, body = Page<UserView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/users")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: crate::extract::Query<UserListQuery>,
    paging: crate::extract::Query<PageQuery>,
) -> AppResult<web::Json<Page<UserView>>> {
    let q = query.into_inner();
    let filter = svc::UserListFilter {
        q: q.q,
        role: q.role,
    };
    Ok(web::Json(svc::list(&state, &user, &filter, &paging).await?))
}

/// Disable an account: its tokens and console sessions stop working at once. Admins any other
/// account; regulators merchant logins of their jurisdiction. Audited.
#[utoipa::path(operation_id = "disable_user", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = UserView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/users/{id}/disable")]
pub async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<UserView>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::set_disabled(&state, &user, actor, path.into_inner(), true).await?,
    ))
}

/// Enable a disabled account again. Same rights as disabling. Audited.
#[utoipa::path(operation_id = "enable_user", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = UserView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/users/{id}/enable")]
pub async fn enable(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<UserView>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::set_disabled(&state, &user, actor, path.into_inner(), false).await?,
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password (8–128 characters).
    pub password: String,
}

/// Set a new password for another account (a shop owner who forgot theirs): every token and
/// console session of that account ends. Same rights as disabling. Audited (never the password).
#[utoipa::path(operation_id = "reset_user_password", tag = "users", security(("bearer" = [])), params(("id" = i64, Path)), request_body = PasswordReset, responses(
    (status = 200, body = UserView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/users/{id}/password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<PasswordReset>,
) -> AppResult<web::Json<UserView>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::reset_password(&state, &user, actor, path.into_inner(), &body.password).await?,
    ))
}
