//! Consumer warnings as staff work them: their list, and ending one early. (Publishing is
//! `POST /warnings`, the public list `GET /public/warnings`.)

use actix_web::{get, post, web, HttpRequest};

use crate::auth::CurrentUser;
use crate::db::complaints::WarningRow;
use crate::error::{AppResult, Problem};
use crate::routes::actor;
use crate::service::warnings as svc;
use crate::state::AppState;

/// Warnings of the caller's jurisdiction and those for everywhere (admins: all), newest first,
/// ended ones included (their `valid_until` has passed); at most 200.
#[utoipa::path(operation_id = "list_staff_warnings", tag = "complaints", security(("bearer" = [])), responses(
    (status = 200, body = Vec<WarningRow>),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/warnings")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<web::Json<Vec<WarningRow>>> {
    Ok(web::Json(svc::list(&state, &user).await?))
}

/// End a warning early: it is no longer shown from today (`valid_until` becomes yesterday).
/// Regulators end warnings of their jurisdiction; a warning for everywhere is for admins (403).
#[utoipa::path(operation_id = "end_warning", tag = "complaints", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = WarningRow),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/warnings/{id}/end")]
pub async fn end(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<WarningRow>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::end(&state, &user, actor, path.into_inner()).await?,
    ))
}
