//! `/console/settings` (administrators): the working-day calendar of a year (holidays and
//! make-up working days) and the complaint-deadline rules.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::{
    html, posted, see_other, signed_in, unprocessable, Chrome, Console, ConsoleError,
    ConsoleResult, FormData, FormState,
};
use crate::auth::policy;
use crate::db::calendar::DeadlineRule;
use crate::domain::FieldError;
use crate::error::AppError;
use crate::service;
use crate::service::settings::{CalendarYearUpdate, DeadlineRuleBody};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings/calendar", web::post().to(put_calendar))
        .route("/settings/rules", web::post().to(put_rule))
        .route(
            "/settings/credit-repair/{kind}",
            web::post().to(put_repair_rule),
        )
        .route(
            "/settings/review-deadlines/{kind}",
            web::post().to(put_review_deadline),
        );
}

#[derive(Template)]
#[template(path = "console/settings.html")]
pub struct SettingsPage {
    pub c: Chrome,
    pub year: i32,
    pub calendar: FormState,
    pub rule: FormState,
    pub rules: Vec<DeadlineRule>,
    pub repair_rules: Vec<crate::db::repairs::RepairRule>,
    pub review_deadlines: Vec<crate::db::repairs::ReviewDeadline>,
}

#[derive(Deserialize)]
pub struct Params {
    year: Option<i32>,
    done: Option<String>,
}

async fn admin(state: &AppState, req: &HttpRequest) -> ConsoleResult<Console> {
    let c = signed_in(state, req).await?;
    if policy::administer(c.user()).check().is_err() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    Ok(c)
}

async fn render(
    state: &AppState,
    c: &Console,
    year: i32,
    calendar: Option<FormState>,
    rule: FormState,
    flash: Option<String>,
) -> ConsoleResult<String> {
    let calendar = match calendar {
        Some(f) => f,
        None => {
            let cal = service::settings::calendar_year(state, year)
                .await
                .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
            let join = |d: &[NaiveDate]| {
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let mut v = HashMap::new();
            v.insert("holidays".to_owned(), join(&cal.holidays));
            v.insert("workdays".to_owned(), join(&cal.workdays));
            FormState::with(v)
        }
    };
    let rules = service::settings::deadline_rules(state, c.user())
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let repair_rules = service::repairs::rules(state)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let review_deadlines = service::repairs::review_deadlines(state)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let mut chrome = c.chrome(state, "settings");
    chrome.flash = flash;
    html(&SettingsPage {
        review_deadlines,
        repair_rules,
        c: chrome,
        year,
        calendar,
        rule,
        rules,
    })
}

fn default_rule() -> FormState {
    let mut v = HashMap::new();
    v.insert("effective_from".to_owned(), service::today().to_string());
    v.insert("accept_working_days".to_owned(), "7".to_owned());
    v.insert("conclude_working_days".to_owned(), "45".to_owned());
    v.insert("green_channel_working_days".to_owned(), "10".to_owned());
    FormState::with(v)
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Params>,
) -> ConsoleResult {
    let c = admin(&state, &req).await?;
    let year = q.year.unwrap_or_else(|| service::today().year());
    let flash = q
        .done
        .as_deref()
        .filter(|d| matches!(*d, "calendar" | "rule" | "repair" | "review"))
        .map(|d| {
            c.words()
                .s(&format!("console.settings.done.{d}"))
                .to_owned()
        });
    let body = render(&state, &c, year, None, default_rule(), flash).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/html; charset=utf-8"))
        .body(body))
}

/// One date a line (or separated by commas or spaces): the dates, or the field's error.
fn dates(form: &FormData, field: &str) -> Result<Vec<NaiveDate>, FieldError> {
    let raw = crate::domain::text::fold_width(form.get(field));
    raw.split(|ch: char| ch == '\n' || ch == ',' || ch == '，' || ch.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                FieldError::new(
                    field,
                    "invalid_date",
                    format!("{s} is not a date (YYYY-MM-DD)"),
                )
            })
        })
        .collect()
}

pub async fn put_calendar(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    if policy::administer(c.user()).check().is_err() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    let year = form.get("year").trim().parse::<i32>().unwrap_or(0);
    let (h, w) = (dates(&form, "holidays"), dates(&form, "workdays"));
    let result = match (h, w) {
        (Ok(holidays), Ok(workdays)) => service::settings::put_calendar_year(
            &state,
            c.user(),
            c.actor(&state, &req),
            year,
            &CalendarYearUpdate { holidays, workdays },
        )
        .await
        .map(drop),
        (h, w) => Err(AppError::Validation(
            [h.err(), w.err()].into_iter().flatten().collect(),
        )),
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/console/settings?year={year}&done=calendar"
        ))),
        Err(AppError::Validation(errors)) => {
            // `holidays[3]` → the holidays box
            let fs = FormState::failed(&form, c.lang, &errors);
            let y = if year == 0 {
                service::today().year()
            } else {
                year
            };
            let body = render(&state, &c, y, Some(fs), default_rule(), None).await?;
            Ok(unprocessable(body))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

pub async fn put_rule(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    if policy::administer(c.user()).check().is_err() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    let mut errors = Vec::new();
    let mut int = |field: &str| -> i32 {
        form.get(field).trim().parse::<i32>().unwrap_or_else(|_| {
            errors.push(FieldError::new(
                field,
                "invalid_type",
                format!("{field} is a whole number of working days"),
            ));
            -1
        })
    };
    let body = DeadlineRuleBody {
        accept_working_days: int("accept_working_days"),
        conclude_working_days: int("conclude_working_days"),
        green_channel_working_days: int("green_channel_working_days"),
        note: crate::domain::text::clean_multiline(form.get("note")),
    };
    let from = NaiveDate::parse_from_str(form.get("effective_from").trim(), "%Y-%m-%d");
    if from.is_err() {
        errors.push(FieldError::new(
            "effective_from",
            "invalid_date",
            "effective_from is a date (YYYY-MM-DD)",
        ));
    }
    let result = match from {
        Ok(from) if errors.is_empty() => service::settings::put_deadline_rule(
            &state,
            c.user(),
            c.actor(&state, &req),
            from,
            &body,
        )
        .await
        .map(drop),
        _ => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(()) => Ok(see_other("/console/settings?done=rule")),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            let body = render(&state, &c, service::today().year(), None, fs, None).await?;
            Ok(unprocessable(body))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

/// Sets a kind's minimum days in publicity before credit repair (`min_days_in_publicity`).
pub async fn put_repair_rule(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    if policy::administer(c.user()).check().is_err() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    let days = form
        .get("min_days_in_publicity")
        .trim()
        .parse::<i32>()
        .unwrap_or(-1);
    match service::repairs::set_rule(&state, c.user(), c.actor(&state, &req), &path, days).await {
        Ok(_) => Ok(see_other("/console/settings?done=repair")),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            let body = render(&state, &c, service::today().year(), None, fs, None).await?;
            Ok(unprocessable(body))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}

/// Sets the working days regulators have to decide objections or repairs (`working_days`).
pub async fn put_review_deadline(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    if policy::administer(c.user()).check().is_err() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    let days = form.get("working_days").trim().parse::<i32>().unwrap_or(0);
    match service::repairs::set_review_days(&state, c.user(), c.actor(&state, &req), &path, days)
        .await
    {
        Ok(_) => Ok(see_other("/console/settings?done=review")),
        Err(AppError::Validation(errors)) => {
            let fs = FormState::failed(&form, c.lang, &errors);
            let body = render(&state, &c, service::today().year(), None, fs, None).await?;
            Ok(unprocessable(body))
        }
        Err(e) => Err(ConsoleError::from(e).in_lang(c.lang)),
    }
}
