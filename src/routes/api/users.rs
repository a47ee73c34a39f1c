//! Accounts.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
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
