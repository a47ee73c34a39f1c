//! Settings use cases: the complaint deadline rules (versioned by the day they take effect) and
//! the working-day calendar (public holidays and make-up working days). Reading the calendar
//! is public; changing either is for administrators, audited in the same transaction.

use chrono::{Datelike, NaiveDate};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::{self, Actor};
use crate::db::calendar::DeadlineRule;
use crate::domain::workdays::CalendarYear;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize, ToSchema)]
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

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CalendarYearBody {
    pub year: i32,
    /// Official public holidays (including the weekend days inside a holiday period).
    pub holidays: Vec<NaiveDate>,
    /// Make-up working days (调休上班): weekend days that are working days.
    pub workdays: Vec<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarYearUpdate {
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
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

fn year_param(year: i32) -> AppResult<i32> {
    CalendarYear::check_year(year)
        .map(|_| year)
        .map_err(AppError::validation)
}

/// Every deadline rule, oldest first (staff).
pub async fn deadline_rules(state: &AppState, user: &CurrentUser) -> AppResult<Vec<DeadlineRule>> {
    policy::read_settings(user).check()?;
    let mut conn = state.pool.get().await?;
    Ok(db::calendar::deadline_rules(&mut conn).await?)
}

/// Sets the rule taking effect on `effective_from` (administrators); audited with the rule it
/// replaces.
pub async fn put_deadline_rule(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    effective_from: NaiveDate,
    input: &DeadlineRuleBody,
) -> AppResult<DeadlineRule> {
    policy::administer(user).check()?;
    validate(input).map_err(AppError::Validation)?;
    let rule = DeadlineRule {
        effective_from,
        accept_working_days: input.accept_working_days,
        conclude_working_days: input.conclude_working_days,
        green_channel_working_days: input.green_channel_working_days,
        note: input.note.clone(),
    };
    let mut conn = state.pool.get().await?;
    Ok(db::calendar::put_deadline_rule_audited(&mut conn, &actor, &rule).await?)
}

/// One year of the calendar (public).
pub async fn calendar_year(state: &AppState, year: i32) -> AppResult<CalendarYearBody> {
    let year = year_param(year)?;
    let mut conn = state.pool.get().await?;
    let (holidays, workdays) = db::calendar::year(&mut conn, year).await?;
    Ok(CalendarYearBody {
        year,
        holidays,
        workdays,
    })
}

/// Replaces one year of the calendar (administrators), audited with what it replaces; the
/// answer is the year as written, read in the same transaction.
pub async fn put_calendar_year(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    year: i32,
    input: &CalendarYearUpdate,
) -> AppResult<CalendarYearBody> {
    policy::administer(user).check()?;
    let cal = CalendarYear::parse(year, &input.holidays, &input.workdays)
        .map_err(AppError::Validation)?;
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
    Ok(CalendarYearBody {
        year,
        holidays,
        workdays,
    })
}

/// The day `days` working days after `from`, and whether the calendar covers every year the
/// count crossed (public).
pub async fn add_working_days(
    state: &AppState,
    from: NaiveDate,
    days: u32,
) -> AppResult<AddWorkingDaysAnswer> {
    if days > 400 {
        return Err(AppError::validation(FieldError::new(
            "days",
            "out_of_range",
            "days must be between 0 and 400",
        )));
    }
    if CalendarYear::check_year(from.year()).is_err() {
        return Err(AppError::validation(FieldError::new(
            "from",
            "out_of_range",
            "from must be between 2000 and 2100",
        )));
    }
    // 400 working days span under two years; load generously.
    let until = from + chrono::Days::new(u64::from(days) * 2 + 30);
    let mut conn = state.pool.get().await?;
    let cal = db::calendar::load_range(&mut conn, from, until).await?;
    let date = cal.add_working_days(from, days);
    let covered = db::calendar::years_covered(&mut conn).await?;
    let calendar_complete = (from.year()..=date.year()).all(|y| covered.contains(&y));
    Ok(AddWorkingDaysAnswer {
        from,
        days,
        date,
        calendar_complete,
    })
}
