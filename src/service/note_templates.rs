//! Saved wordings a regulator may pick for a complaint note: a small list per jurisdiction
//! (a region's templates are offered to the regulators whose jurisdiction covers it).

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::complaints::NoteTemplateRow;
use crate::domain::region::RegionCode;
use crate::domain::text::{clean_multiline, clean_text, control_char_error};
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The templates the caller may use (staff of their jurisdiction; admins all).
pub async fn list(state: &AppState, user: &CurrentUser) -> AppResult<Vec<NoteTemplateRow>> {
    policy::publish_warnings(user).check()?;
    let mut conn = state.pool.get().await?;
    let regions = super::dashboard::visible_regions(&mut conn, user).await?;
    Ok(db::complaints::note_templates(&mut conn, regions).await?)
}

/// One template the caller may use (404 otherwise).
pub async fn get(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<NoteTemplateRow> {
    policy::publish_warnings(user).check()?;
    let mut conn = state.pool.get().await?;
    let row = db::complaints::find_note_template(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = RegionCode::parse(&row.region_code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored region: {e}")))?;
    if !policy::in_jurisdiction(user, &region) {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

/// Saves a new template for a region of the caller's jurisdiction.
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    region_code: &str,
    title: &str,
    body: &str,
) -> AppResult<NoteTemplateRow> {
    policy::publish_warnings(user).check()?;
    let mut errors = Vec::new();
    for (field, v) in [("title", title), ("body", body)] {
        if let Some(e) = control_char_error(field, v) {
            errors.push(e);
        }
    }
    let title = clean_text(title);
    let body = clean_multiline(body);
    if title.is_empty() || title.chars().count() > 60 {
        errors.push(FieldError::new(
            "title",
            "out_of_range",
            "title has 1–60 characters",
        ));
    }
    if body.is_empty() || body.chars().count() > 2000 {
        errors.push(FieldError::new(
            "body",
            "out_of_range",
            "body has 1–2000 characters",
        ));
    }
    let region = match RegionCode::parse(region_code.trim()) {
        Ok(r) if policy::in_jurisdiction(user, &r) => Some(r),
        Ok(_) => {
            errors.push(FieldError::new(
                "region_code",
                "outside_jurisdiction",
                "region_code is outside your jurisdiction",
            ));
            None
        }
        Err(e) => {
            errors.push(FieldError::new(
                "region_code",
                "invalid_region_code",
                e.to_string(),
            ));
            None
        }
    };
    let Some(region) = region.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let mut conn = state.pool.get().await?;
    let known = db::regions::existing(&mut conn, &[region.to_string()]).await?;
    if known.is_empty() {
        return Err(AppError::validation(FieldError::new(
            "region_code",
            "unknown_region",
            "region_code is not loaded in this deployment",
        )));
    }
    Ok(
        db::complaints::insert_note_template(&mut conn, &actor, region.as_str(), &title, &body)
            .await?,
    )
}

/// Removes a template of the caller's jurisdiction.
pub async fn delete(state: &AppState, user: &CurrentUser, actor: Actor, id: i64) -> AppResult<()> {
    let row = get(state, user, id).await?;
    let mut conn = state.pool.get().await?;
    Ok(db::complaints::delete_note_template(&mut conn, &actor, &row).await?)
}
