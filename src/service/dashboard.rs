//! The day's work, as the console's front page shows it: what is overdue, due soon or waiting,
//! in the caller's jurisdiction. Each count names the filter of the list it links to.

use chrono::{Days, Months, NaiveDate};

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::merchants::{Attention, MerchantFilter};
use crate::domain::region::RegionCode;
use crate::error::{AppError, AppResult};
use crate::service::merchants::today;
use crate::state::AppState;

/// Complaints due within this many working days count as "due soon".
pub const DUE_SOON_WORKING_DAYS: u32 = 2;
/// Licences ending within this many days count as "expiring".
pub const LICENCE_WARNING_DAYS: u64 = 30;
/// A listing without an inspection for this many months is "not inspected".
pub const INSPECTION_MONTHS: u32 = 24;

#[derive(Debug, Clone, Default)]
pub struct WorkCounts {
    pub overdue: i64,
    pub due_soon: i64,
    pub awaiting_decision: i64,
    pub licences_expiring: i64,
    pub not_inspected: i64,
    pub open_without_code: i64,
    /// The last day that counts as "due soon".
    pub due_by: Option<NaiveDate>,
}

/// The region codes the caller sees (None: all, for admins).
pub async fn visible_regions(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &CurrentUser,
) -> AppResult<Option<Vec<String>>> {
    if user.role == crate::domain::user::Role::Admin {
        return Ok(None);
    }
    Ok(Some(
        db::regions::list(conn)
            .await?
            .into_iter()
            .filter_map(|r| RegionCode::parse(&r.code).ok())
            .filter(|r| policy::in_jurisdiction(user, r))
            .map(|r| r.to_string())
            .collect(),
    ))
}

/// The attention filters, as of `today`.
pub fn attention(which: &str, today: NaiveDate) -> Option<Attention> {
    match which {
        "licence_expiring" => Some(Attention::LicenceExpiring {
            from: today,
            until: today + Days::new(LICENCE_WARNING_DAYS),
        }),
        "not_inspected" => Some(Attention::NoInspectionSince {
            since: today
                .checked_sub_months(Months::new(INSPECTION_MONTHS))
                .unwrap_or(today),
        }),
        "no_code" => Some(Attention::OpenWithoutCode),
        _ => None,
    }
}

/// The last day that counts as "due soon" from `today`.
pub async fn due_by(
    conn: &mut diesel_async::AsyncPgConnection,
    today: NaiveDate,
) -> AppResult<NaiveDate> {
    let cal = db::calendar::load_range(conn, today, today + Days::new(60)).await?;
    Ok(cal.add_working_days(today, DUE_SOON_WORKING_DAYS))
}

/// Working days from `today` to `deadline` (negative: overdue by that many), for the queue.
pub async fn working_days_left(
    state: &AppState,
    today: NaiveDate,
    deadlines: &[NaiveDate],
) -> AppResult<Vec<i64>> {
    let (Some(min), Some(max)) = (deadlines.iter().min(), deadlines.iter().max()) else {
        return Ok(vec![]);
    };
    let from = (*min).min(today) - Days::new(1);
    let until = (*max).max(today) + Days::new(1);
    let mut conn = state.pool.get().await?;
    let cal = db::calendar::load_range(&mut conn, from, until).await?;
    Ok(deadlines
        .iter()
        .map(|d| {
            if *d >= today {
                i64::from(cal.working_days_between(today, *d))
            } else {
                -i64::from(cal.working_days_between(*d, today))
            }
        })
        .collect())
}

/// The counts for a regulator's or an admin's work page.
pub async fn staff_work(state: &AppState, user: &CurrentUser) -> AppResult<WorkCounts> {
    if user.role == crate::domain::user::Role::Merchant {
        return Err(AppError::NotFound);
    }
    let mut conn = state.pool.get().await?;
    let visible = visible_regions(&mut conn, user).await?;
    let today = today();
    let due_by = due_by(&mut conn, today).await?;
    let (overdue, due_soon, awaiting_decision) =
        db::complaints::work_counts(&mut conn, visible.clone(), today, due_by).await?;
    let mut counts = WorkCounts {
        overdue,
        due_soon,
        awaiting_decision,
        due_by: Some(due_by),
        ..WorkCounts::default()
    };
    for (which, slot) in [
        ("licence_expiring", &mut counts.licences_expiring),
        ("not_inspected", &mut counts.not_inspected),
        ("no_code", &mut counts.open_without_code),
    ] {
        let filter = MerchantFilter {
            visible_regions: visible.clone(),
            attention: attention(which, today),
            ..MerchantFilter::default()
        };
        *slot = db::merchants::count(&mut conn, &filter).await?;
    }
    Ok(counts)
}
