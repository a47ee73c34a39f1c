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
