//! Complaint deadline rules (working days), versioned by the date they take effect: a complaint
//! follows the rule in force on the day it was received.

use actix_web::{get, put, web, HttpRequest};
use chrono::NaiveDate;

use crate::auth::CurrentUser;
use crate::db::calendar::DeadlineRule;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
use crate::service::settings as svc;
use crate::state::AppState;

pub use crate::service::settings::DeadlineRuleBody;

/// Every rule, oldest first (staff).
#[utoipa::path(operation_id = "list_complaint_deadlines", tag = "settings", security(("bearer" = [])), responses(
    (status = 200, body = Vec<DeadlineRule>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/settings/complaint-deadlines")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<web::Json<Vec<DeadlineRule>>> {
    Ok(web::Json(svc::deadline_rules(&state, &user).await?))
}

/// Set the rule taking effect on a date (admin); audited with the rule it replaces.
#[utoipa::path(operation_id = "put_complaint_deadline", tag = "settings", security(("bearer" = [])),
    params(("effective_from" = NaiveDate, Path, description = "the day the rule takes effect")),
    request_body = DeadlineRuleBody, responses(
    (status = 200, body = DeadlineRule),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/settings/complaint-deadlines/{effective_from}")]
pub async fn put(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<NaiveDate>,
    body: Json<DeadlineRuleBody>,
) -> AppResult<web::Json<DeadlineRule>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::put_deadline_rule(&state, &user, actor, path.into_inner(), &body).await?,
    ))
}
