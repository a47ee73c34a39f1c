//! The merchant's right of reply to its inspections and credit records.

use actix_web::{get, post, put, web, HttpRequest};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
use crate::service::replies as svc;
use crate::state::AppState;

pub use crate::service::replies::ReplyView;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// The merchant's words, 1–500 characters, shown on the public page under the record.
    pub reply: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HideRequest {
    /// Why the reply is hidden from the public (shown to the merchant).
    pub reason: String,
}

/// The merchant's replies (the merchant itself and its regulators), hidden ones included.
#[utoipa::path(operation_id = "list_replies", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<ReplyView>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/replies")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<Vec<ReplyView>>> {
    Ok(web::Json(
        svc::list(&state, &user, path.into_inner()).await?,
    ))
}

/// Reply to one of the shop's records (the merchant itself only): `kind` is `inspection`,
/// `credit_record` or `complaint` (once closed; the public page shows the complaint's category
/// and closing day with the reply, nothing of the consumer). Editable until a regulator has seen it (then 409 `reply_locked`).
#[utoipa::path(operation_id = "put_reply", tag = "merchants", security(("bearer" = [])), params(
    ("id" = i64, Path),
    ("kind" = String, Path, description = "`inspection`, `credit_record` or `complaint` (closed)"),
    ("record_id" = i64, Path),
), request_body = ReplyRequest, responses(
    (status = 200, body = ReplyView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/merchants/{id}/replies/{kind}/{record_id}")]
pub async fn put_reply(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(i64, String, i64)>,
    body: Json<ReplyRequest>,
) -> AppResult<web::Json<ReplyView>> {
    let (id, kind, record_id) = path.into_inner();
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::put(&state, &user, actor, id, &kind, record_id, &body.reply).await?,
    ))
}

/// A regulator has read the reply: it can no longer be edited.
#[utoipa::path(operation_id = "mark_reply_seen", tag = "merchants", security(("bearer" = [])), params(
    ("id" = i64, Path),
    ("kind" = String, Path, description = "`inspection`, `credit_record` or `complaint` (closed)"),
    ("record_id" = i64, Path),
), responses(
    (status = 200, body = ReplyView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/replies/{kind}/{record_id}/seen")]
pub async fn seen(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(i64, String, i64)>,
) -> AppResult<web::Json<ReplyView>> {
    let (id, kind, record_id) = path.into_inner();
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::regulate(&state, &user, actor, id, &kind, record_id, None).await?,
    ))
}

/// Hide a reply from the public (abuse, personal data), with a reason the merchant sees.
#[utoipa::path(operation_id = "hide_reply", tag = "merchants", security(("bearer" = [])), params(
    ("id" = i64, Path),
    ("kind" = String, Path, description = "`inspection`, `credit_record` or `complaint` (closed)"),
    ("record_id" = i64, Path),
), request_body = HideRequest, responses(
    (status = 200, body = ReplyView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/replies/{kind}/{record_id}/hide")]
pub async fn hide(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(i64, String, i64)>,
    body: Json<HideRequest>,
) -> AppResult<web::Json<ReplyView>> {
    let (id, kind, record_id) = path.into_inner();
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::regulate(
            &state,
            &user,
            actor,
            id,
            &kind,
            record_id,
            Some(&body.reason),
        )
        .await?,
    ))
}
