//! The working-day calendar (public holidays and make-up working days).

use actix_web::{get, put, web, HttpRequest};
use chrono::{Datelike, NaiveDate};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit;
use crate::domain::workdays::CalendarYear;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{Json, Query};
use crate::routes::actor;
use crate::state::AppState;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CalendarYearBody {
    pub year: i32,
    /// Official public holidays (including the weekend days inside a holiday period).
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days (调休上班): weekend days that are working days.
    pub workdays: Vec<NaiveDate>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarYearUpdate {
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

fn year_param(year: i32) -> AppResult<i32> {
    CalendarYear::check_year(year)
        .map(|_| year)
        .map_err(AppError::validation)
}

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
    let year = year_param(path.into_inner())?;
    let mut conn = state.pool.get().await?;
    let (holidays, workdays) = db::calendar::year(&mut conn, year).await?;
    Ok(web::Json(CalendarYearBody {
        year,
        holidays,
        workdays,
    }))
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
    policy::administer(&user).check()?;
    let year = path.into_inner();
    let cal =
        CalendarYear::parse(year, &body.holidays, &body.workdays).map_err(AppError::Validation)?;
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let mut conn = state.pool.get().await?;
    let (holidays, workdays) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let (old_h, old_w) = db::calendar::year(conn, year).await?;
            db::calendar::replace_year(conn, &cal).await?;
            let (new_h, new_w) = db::calendar::year(conn, year).await?;
            audit::record(
                conn,
                &actor,
                "calendar.replace_year",
                "calendar",
                &year.to_string(),
                Some(&serde_json::json!({ "holidays": old_h, "workdays": old_w })),
                Some(&serde_json::json!({ "holidays": new_h, "workdays": new_w })),
            )
            .await?;
            Ok((new_h, new_w))
        })
        .await?;
    Ok(web::Json(CalendarYearBody {
        year,
        holidays,
        workdays,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct AddWorkingDaysQuery {
    /// Start date (e.g. the day a complaint was received).
    pub from: NaiveDate,
    /// Number of working days to add (0–400).
    #[param(minimum = 0, maximum = 400)]
    pub days: u32,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AddWorkingDaysAnswer {
    pub from: NaiveDate,
    pub days: u32,
    /// The `days`-th working day after `from`.
    pub date: NaiveDate,
    /// False when the span reaches a year with no official schedule loaded (then only
    /// weekends are rest days there, and the answer may move once the schedule is published).
    pub calendar_complete: bool,
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
    let q = query.into_inner();
    if q.days > 400 {
        return Err(AppError::validation(FieldError::new(
            "days",
            "out_of_range",
            "days must be between 0 and 400",
        )));
    }
    if CalendarYear::check_year(q.from.year()).is_err() {
        return Err(AppError::validation(FieldError::new(
            "from",
            "out_of_range",
            "from must be between 2000 and 2100",
        )));
    }
    // 400 working days span under two years; load generously.
    let until = q.from + chrono::Days::new(u64::from(q.days) * 2 + 30);
    let mut conn = state.pool.get().await?;
    let cal = db::calendar::load_range(&mut conn, q.from, until).await?;
    let date = cal.add_working_days(q.from, q.days);
    let covered = db::calendar::years_covered(&mut conn).await?;
    let calendar_complete = (q.from.year()..=date.year()).all(|y| covered.contains(&y));
    Ok(web::Json(AddWorkingDaysAnswer {
        from: q.from,
        days: q.days,
        date,
        calendar_complete,
    }))
}
