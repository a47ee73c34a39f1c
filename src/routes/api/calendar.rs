//! The working-day calendar (public holidays and make-up working days).

use actix_web::{get, put, web, HttpRequest};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::{Json, Query};
use crate::routes::actor;
use crate::service::settings as svc;
use crate::state::AppState;

pub use crate::service::settings::{AddWorkingDaysAnswer, CalendarYearBody, CalendarYearUpdate};

/// One year's holidays and make-up working days.
#[utoipa::path(operation_id = "get_calendar_year", tag = "calendar", params(("year" = i32, Path, minimum = 2000, maximum = 2100)), responses(
    (status = 200, body = CalendarYearBody),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
// digits only: `/calendar/add-working-days` is another resource, not a year
#[get("/calendar/{year:\\d+}")]
pub async fn get_year(
    state: web::Data<AppState>,
    path: web::Path<i32>,
) -> AppResult<web::Json<CalendarYearBody>> {
    Ok(web::Json(
        svc::calendar_year(&state, path.into_inner()).await?,
    ))
}

/// Replace one year's schedule (admin). A make-up working day must be a weekend day and cannot
/// also be a holiday; every date must be in that year. Audited with the old and new schedule.
#[utoipa::path(operation_id = "put_calendar_year", tag = "calendar", security(("bearer" = [])), params(("year" = i32, Path, minimum = 2000, maximum = 2100)),
    request_body = CalendarYearUpdate, responses(
    (status = 200, body = CalendarYearBody),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[put("/calendar/{year:\\d+}")]
pub async fn put_year(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i32>,
    body: Json<CalendarYearUpdate>,
) -> AppResult<web::Json<CalendarYearBody>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::put_calendar_year(&state, &user, actor, path.into_inner(), &body).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct AddWorkingDaysQuery {
    /// Start date (e.g. the day a complaint was received).
    pub from: NaiveDate,
    /// Number of working days to add (0–400).
    #[param(minimum = 0, maximum = 400)]
    pub days: u32,
}

/// The N-th working day after a date, by the calendar: how complaint deadlines are computed.
#[utoipa::path(operation_id = "add_working_days", tag = "calendar", params(AddWorkingDaysQuery), responses(
    (status = 200, body = AddWorkingDaysAnswer),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/calendar/add-working-days")]
pub async fn add_working_days(
    state: web::Data<AppState>,
    query: Query<AddWorkingDaysQuery>,
) -> AppResult<web::Json<AddWorkingDaysAnswer>> {
    Ok(web::Json(
        svc::add_working_days(&state, query.from, query.days).await?,
    ))
}
