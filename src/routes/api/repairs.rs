//! Credit repair (信用修复): rules, applications, decisions.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::repairs::RepairRule;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
use crate::service::repairs as svc;
use crate::state::AppState;

pub use crate::service::repairs::{QueuedRepair, RepairView};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairRequest {
    /// The credit record (penalty, abnormal list or serious violation) to repair.
    pub record_id: i64,
    /// The merchant's statement: what was put right, and how (1–2000 characters).
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairDecision {
    /// `approve` (the record leaves publicity today) or `refuse`.
    pub decision: String,
    /// The reason, shown to the merchant.
    pub note: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairRuleUpdate {
    /// Days a record of this kind must have been public before the merchant may apply (0–3650).
    #[schema(minimum = 0, maximum = 3650)]
    pub min_days_in_publicity: i32,
}

/// The repair rules: the minimum days in publicity before a merchant may apply, per kind.
#[utoipa::path(operation_id = "list_credit_repair_rules", tag = "settings", security(("bearer" = [])), responses(
    (status = 200, body = Vec<RepairRule>),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/credit-repair")]
pub async fn rules(
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> AppResult<web::Json<Vec<RepairRule>>> {
    Ok(web::Json(svc::rules(&state).await?))
}

/// Set a kind's minimum days in publicity (administrators). Audited.
#[utoipa::path(operation_id = "put_credit_repair_rule", tag = "settings", security(("bearer" = [])), params(
    ("kind" = String, Path, description = "`penalty`, `abnormal_list` or `serious_violation`"),
), request_body = RepairRuleUpdate, responses(
    (status = 200, body = RepairRule),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/settings/credit-repair/{kind}")]
pub async fn set_rule(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<RepairRuleUpdate>,
) -> AppResult<web::Json<RepairRule>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::set_rule(&state, &user, actor, &path, body.min_days_in_publicity).await?,
    ))
}

/// Apply for credit repair of one of the shop's public credit records (the merchant itself),
/// once the rule's minimum time in publicity has passed.
#[utoipa::path(operation_id = "apply_credit_repair", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = RepairRequest, responses(
    (status = 201, body = RepairView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/credit-repairs")]
pub async fn apply(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<RepairRequest>,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let v = svc::apply(
        &state,
        &user,
        actor,
        path.into_inner(),
        body.record_id,
        &body.reason,
        Vec::new(),
    )
    .await?;
    Ok(HttpResponse::Created().json(v))
}

/// The shop's repair applications and their decisions.
#[utoipa::path(operation_id = "list_merchant_credit_repairs", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<RepairView>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/credit-repairs")]
pub async fn of_merchant(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<Vec<RepairView>>> {
    Ok(web::Json(
        svc::of_merchant(&state, &user, path.into_inner()).await?,
    ))
}

/// Open repair applications in the caller's jurisdiction, deadline first.
#[utoipa::path(operation_id = "list_credit_repairs", tag = "merchants", security(("bearer" = [])), responses(
    (status = 200, body = Vec<QueuedRepair>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/credit-repairs")]
pub async fn queue(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<web::Json<Vec<QueuedRepair>>> {
    Ok(web::Json(svc::queue(&state, &user).await?))
}

/// Approve (the record leaves publicity today; the grade is reassessed) or refuse, with a note.
#[utoipa::path(operation_id = "decide_credit_repair", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = RepairDecision, responses(
    (status = 200, body = RepairView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/credit-repairs/{id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<RepairDecision>,
) -> AppResult<web::Json<RepairView>> {
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDeadlineUpdate {
    /// Working days regulators have to decide (1–365).
    #[schema(minimum = 1, maximum = 365)]
    pub working_days: i32,
}

/// How many working days regulators have to decide objections and repair applications.
#[utoipa::path(operation_id = "list_review_deadlines", tag = "settings", security(("bearer" = [])), responses(
    (status = 200, body = Vec<crate::db::repairs::ReviewDeadline>),
    (status = 401, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/review-deadlines")]
pub async fn review_deadlines(
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> AppResult<web::Json<Vec<crate::db::repairs::ReviewDeadline>>> {
    Ok(web::Json(svc::review_deadlines(&state).await?))
}

/// Set the working days for `objection` or `credit_repair` decisions (administrators). Audited.
#[utoipa::path(operation_id = "put_review_deadline", tag = "settings", security(("bearer" = [])), params(
    ("kind" = String, Path, description = "`objection` or `credit_repair`"),
), request_body = ReviewDeadlineUpdate, responses(
    (status = 200, body = crate::db::repairs::ReviewDeadline),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/settings/review-deadlines/{kind}")]
pub async fn set_review_deadline(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<ReviewDeadlineUpdate>,
) -> AppResult<web::Json<crate::db::repairs::ReviewDeadline>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::set_review_days(&state, &user, actor, &path, body.working_days).await?,
    ))
}

/// Attach evidence to an open repair application (the merchant itself only): multipart `file`
/// parts, at most five files per application in all. 409 `decided` once it is decided.
#[utoipa::path(operation_id = "add_repair_evidence", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body(content = inline(crate::routes::api::objections::EvidenceForm), content_type = "multipart/form-data"),
    responses(
    (status = 201, body = Vec<crate::service::evidence::EvidenceView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/credit-repairs/{id}/evidence")]
pub async fn add_evidence(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    payload: actix_multipart::Multipart,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let files = crate::routes::api::objections::read_evidence(&req, payload);
    let v = crate::service::evidence::attach(
        &state,
        &user,
        actor,
        crate::db::evidence::Parent::Repair(path.into_inner()),
        files,
    )
    .await?;
    Ok(HttpResponse::Created().json(v))
}
