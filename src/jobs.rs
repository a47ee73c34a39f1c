//! Background work that no request should do: the grade refresh. A GET never writes; the
//! stored grade (kept for `?grade=` filtering and statistics) follows the passing of time here,
//! on one instance at a time (a PostgreSQL advisory lock), audited as the system.

use actix_web::web;

use crate::db;
use crate::db::audit::Actor;
use crate::db::merchants::GradeRefresh;
use crate::domain::time::china_date;
use crate::error::AppResult;
use crate::state::AppState;

pub fn system_actor() -> Actor {
    Actor {
        user_id: None,
        label: "system".to_owned(),
        client_ip: None,
    }
}

/// Regrades the merchants whose recheck day has come, then refreshes the pages of those whose
/// grade changed. Returns what it did (`skipped` if another instance holds the lock).
pub async fn refresh_grades(state: &AppState) -> AppResult<GradeRefresh> {
    let mut conn = state.pool.get().await?;
    let today = china_date(chrono::Utc::now());
    let done = db::merchants::refresh_due_grades(&mut conn, today, &system_actor()).await?;
    if !done.changed.is_empty() {
        state
            .pages
            .invalidate_merchants(&mut conn, &done.changed)
            .await;
    }
    if !done.changed.is_empty() {
        tracing::info!(
            checked = done.checked,
            changed = done.changed.len(),
            "stored grades refreshed"
        );
    }
    Ok(done)
}

/// Runs `refresh_grades` at start and then every `every` (`GRADE_REFRESH_SECS`; each instance
/// tries, the lock makes all but one skip), for as long as the state lives.
pub fn spawn_grade_refresher(state: web::Data<AppState>) {
    let Some(every) = state.settings.grade_refresh_every else {
        return;
    };
    let weak = std::sync::Arc::downgrade(&state.into_inner());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            if let Err(e) = refresh_grades(&state).await {
                tracing::warn!(error = %e, "grade refresh failed; will try again");
            }
        }
    });
}
