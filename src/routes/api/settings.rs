//! Complaint deadline rules (working days), versioned by the date they take effect: a complaint
//! follows the rule in force on the day it was received.

use actix_web::{get, put, web, HttpRequest};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::calendar::DeadlineRule;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
use crate::state::AppState;

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
    policy::read_settings(&user).check()?;
    let mut conn = state.pool.get().await?;
    Ok(web::Json(db::calendar::deadline_rules(&mut conn).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineRuleBody {
    /// Working days after receipt to accept or reject (1–365).
    #[schema(minimum = 1, maximum = 365)]
    pub accept_working_days: i32,
    /// Working days after acceptance to conclude mediation (1–365).
    #[schema(minimum = 1, maximum = 365)]
    pub conclude_working_days: i32,
    /// Working days the merchant has to settle first (green channel; 0 turns it off).
    #[schema(minimum = 0, maximum = 365)]
    pub green_channel_working_days: i32,
    /// The legal basis, e.g. the revised regulation's name and article.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub note: String,
}

fn validate(body: &DeadlineRuleBody) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut check = |field: &str, v: i32, min: i32| {
        if !(min..=365).contains(&v) {
            errors.push(FieldError::new(
                field,
                "out_of_range",
                format!("{field} must be between {min} and 365"),
            ));
        }
    };
    check("accept_working_days", body.accept_working_days, 1);
    check("conclude_working_days", body.conclude_working_days, 1);
    check(
        "green_channel_working_days",
        body.green_channel_working_days,
        0,
    );
    if body.note.chars().count() > 1000 {
        errors.push(FieldError::new(
            "note",
            "too_long",
            "note must be at most 1000 characters",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
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
    policy::administer(&user).check()?;
    validate(&body).map_err(AppError::Validation)?;
    let body = body.into_inner();
    let rule = DeadlineRule {
        effective_from: path.into_inner(),
        accept_working_days: body.accept_working_days,
        conclude_working_days: body.conclude_working_days,
        green_channel_working_days: body.green_channel_working_days,
        note: body.note,
    };
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let mut conn = state.pool.get().await?;
    Ok(web::Json(
        db::calendar::put_deadline_rule_audited(&mut conn, &actor, &rule).await?,
    ))
}
