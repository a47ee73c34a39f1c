//! The use cases, one function each: caller + typed input → policy → domain → db (with audit,
//! one transaction) → cache invalidation → typed result. Every front end calls these; none
//! calls another front end.

pub mod account;
pub mod audit;
pub mod auth;
pub mod codes;
pub mod complaints;
pub mod dashboard;
pub mod evidence;
pub mod imports;
pub mod merchants;
pub mod note_templates;
pub mod objections;
pub mod paging;
pub mod photos;
pub mod records;
pub mod repairs;
pub mod replies;
pub mod sessions;
pub mod settings;
pub mod shops;
pub mod stats;
pub mod users;
pub mod warnings;

use chrono::{NaiveDate, Utc};

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db;
use crate::domain::region::RegionCode;
use crate::domain::text::clean_ident;
use crate::domain::time::china_date;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};

/// A free-text field that must be given: refused with a control character, cleaned (NFC,
/// trimmed, spaces collapsed, line breaks kept), then 422 `required` when empty and `too_long`
/// past `max` characters, naming `field`.
pub fn required_text(field: &str, raw: &str, max: usize) -> AppResult<String> {
    if let Some(e) = crate::domain::text::control_char_error(field, raw) {
        return Err(AppError::validation(e));
    }
    let v = crate::domain::text::clean_multiline(raw);
    if v.is_empty() {
        return Err(AppError::validation(FieldError::new(
            field,
            "required",
            format!("{field} is required"),
        )));
    }
    if v.chars().count() > max {
        return Err(AppError::validation(FieldError::new(
            field,
            "too_long",
            format!("{field} has at most {max} characters"),
        )));
    }
    Ok(v)
}

/// Today in China (the day deadlines, publicity periods and grades are counted in).
pub fn today() -> NaiveDate {
    china_date(Utc::now())
}

/// Every region known to this deployment (public).
pub async fn regions(state: &crate::state::AppState) -> AppResult<Vec<db::regions::Region>> {
    let mut conn = state.pool.get().await?;
    Ok(db::regions::list(&mut conn).await?)
}

/// Every region code loaded in this deployment (for expanding a jurisdiction or a prefecture).
pub async fn all_regions(conn: &mut diesel_async::AsyncPgConnection) -> AppResult<Vec<RegionCode>> {
    Ok(db::regions::list(conn)
        .await?
        .into_iter()
        .filter_map(|r| RegionCode::parse(&r.code).ok())
        .collect())
}

/// An optional region query parameter: blank is none; anything else must be a region code
/// (`invalid_region` naming `field` otherwise).
pub fn region_param(raw: Option<&str>, field: &str) -> Result<Option<RegionCode>, FieldError> {
    match raw.map(clean_ident).filter(|s| !s.is_empty()) {
        Some(r) => RegionCode::parse(&r)
            .map(Some)
            .map_err(|e| FieldError::new(field, "invalid_region", e.to_string())),
        None => Ok(None),
    }
}

/// A region query parameter of a staff list or report, decided before anything else in the
/// request is validated: 422 if it is not a region code, 404 if it lies outside the caller's
/// jurisdiction (as for a merchant or complaint outside it).
pub fn region_in_scope(
    user: &CurrentUser,
    raw: Option<&str>,
    field: &str,
) -> AppResult<Option<RegionCode>> {
    let region = region_param(raw, field).map_err(AppError::validation)?;
    if let Some(r) = &region {
        policy::filter_by_region(user, r).check()?;
    }
    Ok(region)
}
