//! Consumer warnings as staff work them: the list of their jurisdiction (ended ones too) and
//! ending one early. Publishing is `complaints::create_warning`; the public list
//! `complaints::list_warnings`.

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::complaints::WarningRow;
use crate::domain::region::RegionCode;
use crate::error::{AppError, AppResult};
use crate::service::today;
use crate::state::AppState;

/// Most warnings a staff list shows.
pub const STAFF_LIST_MAX: i64 = 200;

/// Warnings the caller works with: regulators those of their jurisdiction and those for
/// everywhere; admins all. Newest first, ended ones included.
pub async fn list(state: &AppState, user: &CurrentUser) -> AppResult<Vec<WarningRow>> {
    policy::publish_warnings(user).check()?;
    let mut conn = state.pool.get().await?;
    let regions = super::dashboard::visible_regions(&mut conn, user).await?;
    Ok(db::complaints::staff_warnings(&mut conn, regions, true, STAFF_LIST_MAX).await?)
}

/// Ends a warning early (it stops showing from today): the warning must be one the caller may
/// see (404), and one the caller may publish (a regulator cannot end a warning for everywhere:
/// 403). Every scan page is invalidated after commit.
pub async fn end(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
) -> AppResult<WarningRow> {
    policy::publish_warnings(user).check()?;
    let mut conn = state.pool.get().await?;
    let w = db::complaints::find_warning(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = w
        .region_code
        .as_deref()
        .map(RegionCode::parse)
        .transpose()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored warning region: {e}")))?;
    if let Some(r) = &region {
        policy::view_region(user, r).check()?;
    }
    policy::publish_warning(user, region.as_ref()).check()?;
    let yesterday = today().pred_opt().unwrap_or(today());
    let row = db::complaints::end_warning(&mut conn, id, yesterday, &actor).await?;
    state.pages.invalidate_all_after(&mut conn).await;
    Ok(row)
}
