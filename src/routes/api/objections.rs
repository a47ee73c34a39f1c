//! Objections (异议) to a merchant's records.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
use crate::service::objections as svc;
use crate::state::AppState;

pub use crate::service::objections::{ObjectionView, QueuedObjection};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRequest {
    /// `inspection` or `credit_record`.
    pub record_kind: String,
    pub record_id: i64,
    /// Why the record is wrong (1–2000 characters).
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `uphold` (the record stands) or `remove` (out of publicity from today).
    pub decision: String,
    /// The reason, shown to the merchant.
    pub note: String,
}

/// Object to one of the shop's records (the merchant itself only). The regulator decides
/// within 15 working days; meanwhile the public page marks the record.
#[utoipa::path(operation_id = "file_objection", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = ObjectionRequest, responses(
    (status = 201, body = ObjectionView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/objections")]
pub async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<ObjectionRequest>,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let b = body.into_inner();
    let v = svc::file(
        &state,
        &user,
        actor,
        path.into_inner(),
        &b.record_kind,
        b.record_id,
        &b.reason,
    )
    .await?;
    Ok(HttpResponse::Created().json(v))
}

/// The shop's objections and their decisions (the merchant and its regulators).
#[utoipa::path(operation_id = "list_merchant_objections", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<ObjectionView>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/objections")]
pub async fn of_merchant(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<Vec<ObjectionView>>> {
    Ok(web::Json(
        svc::of_merchant(&state, &user, path.into_inner()).await?,
    ))
}

/// Open objections in the caller's jurisdiction, deadline first (at most 500).
#[utoipa::path(operation_id = "list_objections", tag = "merchants", security(("bearer" = [])), responses(
    (status = 200, body = Vec<QueuedObjection>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/objections")]
pub async fn queue(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<web::Json<Vec<QueuedObjection>>> {
    Ok(web::Json(svc::queue(&state, &user).await?))
}

/// Decide an objection: uphold the record, or remove it from publicity (the grade is
/// recomputed). Audited; the shop's pages are refreshed.
#[utoipa::path(operation_id = "decide_objection", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = DecisionRequest, responses(
    (status = 200, body = ObjectionView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/objections/{id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<DecisionRequest>,
) -> AppResult<web::Json<ObjectionView>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::decide(
            &state,
            &user,
            actor,
            path.into_inner(),
            &body.decision,
            &body.note,
        )
        .await?,
    ))
}
