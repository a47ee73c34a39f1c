//! The JSON API under `/api/v1`.

pub mod auth;
pub mod calendar;
pub mod complaints;
pub mod imports;
pub mod merchants;
pub mod paging;
pub mod photos;
pub mod qrcodes;
pub mod regions;
pub mod settings;
pub mod stats;
pub mod users;

use crate::db;
use crate::domain::region::RegionCode;
use crate::domain::text::clean_ident;
use crate::domain::FieldError;
use crate::error::AppResult;

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
    user: &crate::auth::CurrentUser,
    raw: Option<&str>,
    field: &str,
) -> crate::error::AppResult<Option<RegionCode>> {
    let region = region_param(raw, field).map_err(crate::error::AppError::validation)?;
    if let Some(r) = &region {
        if user.role != crate::domain::user::Role::Merchant {
            crate::auth::policy::view_region(user, r).check()?;
        }
    }
    Ok(region)
}
