//! The programme's indicators (统计指标) per county and in total, for the JSON, CSV and XLSX
//! reports. Definitions (from the bureaus' performance-evaluation reports): docs/indicators.md.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::domain::grade::Grade;
use crate::domain::merchant::{Category, Status};
use crate::domain::region::RegionCode;
use crate::domain::time::parse_date;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::service::today;
use crate::state::AppState;

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MerchantIndicators {
    pub total: i64,
    /// With an active QR code.
    pub with_active_code: i64,
    pub by_category: BTreeMap<String, i64>,
    pub by_status: BTreeMap<String, i64>,
    pub by_grade: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ComplaintIndicators {
    /// Received in the period.
    pub received: i64,
    /// Of those, closed by the end of the period.
    pub handled: i64,
    /// handled / received.
    pub handled_rate: Option<f64>,
    /// Handled with every regulator step within its deadline.
    pub on_time: i64,
    /// on_time / handled.
    pub on_time_rate: Option<f64>,
    /// Of those received in the period: still open and past a deadline today.
    pub overdue_open: i64,
    pub rated: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub dissatisfied: i64,
    /// (satisfied + basically_satisfied) / rated.
    pub satisfaction_rate: Option<f64>,
    /// Losses claimed in handled complaints.
    pub amount_claimed_fen: i64,
    pub amount_recovered_fen: i64,
    /// amount_recovered / amount_claimed (挽回率).
    pub recovery_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct InspectionIndicators {
    pub count: i64,
    pub failed: i64,
    /// Ordered to rectify (责令整改), counted apart from failures.
    pub rectify: i64,
    /// failed / count.
    pub fail_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Indicators {
    pub merchants: MerchantIndicators,
    /// Scan-page views in the period.
    pub scans: i64,
    pub complaints: ComplaintIndicators,
    pub inspections: InspectionIndicators,
}

fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| (n as f64 / d as f64 * 10_000.0).round() / 10_000.0)
}

impl Indicators {
    fn add(&mut self, o: &Indicators) {
        let m = &mut self.merchants;
        m.total += o.merchants.total;
        m.with_active_code += o.merchants.with_active_code;
        for (map, other) in [
            (&mut m.by_category, &o.merchants.by_category),
            (&mut m.by_status, &o.merchants.by_status),
            (&mut m.by_grade, &o.merchants.by_grade),
        ] {
            for (k, v) in other {
                *map.entry(k.clone()).or_default() += v;
            }
        }
        self.scans += o.scans;
        let c = &mut self.complaints;
        let oc = &o.complaints;
        c.received += oc.received;
        c.handled += oc.handled;
        c.on_time += oc.on_time;
        c.overdue_open += oc.overdue_open;
        c.satisfied += oc.satisfied;
        c.basically_satisfied += oc.basically_satisfied;
        c.dissatisfied += oc.dissatisfied;
        c.amount_claimed_fen += oc.amount_claimed_fen;
        c.amount_recovered_fen += oc.amount_recovered_fen;
        self.inspections.count += o.inspections.count;
        self.inspections.failed += o.inspections.failed;
        self.inspections.rectify += o.inspections.rectify;
    }

    /// Fills the rates from the counts.
    fn finish(&mut self) {
        let m = &mut self.merchants;
        for c in Category::ALL {
            m.by_category.entry(c.as_str().to_owned()).or_default();
        }
        for s in Status::ALL {
            m.by_status.entry(s.as_str().to_owned()).or_default();
        }
        for g in [Grade::A, Grade::B, Grade::C, Grade::D] {
            m.by_grade.entry(g.as_str().to_owned()).or_default();
        }
        let c = &mut self.complaints;
        c.rated = c.satisfied + c.basically_satisfied + c.dissatisfied;
        c.handled_rate = rate(c.handled, c.received);
        c.on_time_rate = rate(c.on_time, c.handled);
        c.satisfaction_rate = rate(c.satisfied + c.basically_satisfied, c.rated);
        c.recovery_rate = rate(c.amount_recovered_fen, c.amount_claimed_fen);
        let i = &mut self.inspections;
        i.fail_rate = rate(i.failed, i.count);
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionIndicators {
    pub region_code: String,
    pub region_name: String,
    #[serde(flatten)]
    pub indicators: Indicators,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsReport {
    /// The region asked for, or null for the caller's whole jurisdiction.
    pub region: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// One row per county (and any other region with merchants) in scope.
    pub regions: Vec<RegionIndicators>,
    pub total: Indicators,
}

/// The period and region a report is asked for, as given (parsed by `report`).
#[derive(Debug, Clone, Default)]
pub struct StatsInput {
    /// A region code (a prefecture covers its counties); default: the caller's jurisdiction.
    pub region: Option<String>,
    /// First day of the period (default: 1 January of this year).
    pub from: Option<String>,
    /// Last day of the period, inclusive (default: today).
    pub to: Option<String>,
}

/// Indicators per county and in total for a period (staff; a region outside the caller's
/// jurisdiction is 404).
pub async fn report(
    state: &AppState,
    user: &CurrentUser,
    q: &StatsInput,
) -> AppResult<StatsReport> {
    policy::view_statistics(user).check()?;
    let asked = super::region_in_scope(user, q.region.as_deref(), "region")?;
    let mut errors = Vec::new();
    let today = today();
    let mut date = |field: &str, raw: &Option<String>, default: NaiveDate| match raw
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => parse_date(s).unwrap_or_else(|| {
            errors.push(FieldError::new(
                field,
                "invalid_date",
                format!("{field} must be a date, YYYY-MM-DD"),
            ));
            default
        }),
        None => default,
    };
    let from = date(
        "from",
        &q.from,
        NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
    );
    let to = date("to", &q.to, today);
    if from > to {
        errors.push(FieldError::new(
            "to",
            "before_start",
            "to cannot be before from",
        ));
    } else if (to - from).num_days() > 366 * 10 {
        errors.push(FieldError::new(
            "from",
            "out_of_range",
            "the period is at most ten years",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut conn = state.pool.get().await?;
    let regions = db::regions::list(&mut conn).await?;
    let in_scope: Vec<&db::regions::Region> = regions
        .iter()
        .filter(|r| {
            RegionCode::parse(&r.code).is_ok_and(|code| match &asked {
                Some(a) => a.covers(&code),
                None => policy::in_jurisdiction(user, &code),
            })
        })
        .collect();
    let codes: Vec<String> = in_scope.iter().map(|r| r.code.clone()).collect();
    let in_scope: Vec<db::regions::Region> = in_scope.into_iter().cloned().collect();
    drop(conn);
    let key = format!(
        "{}|{from}|{to}|{today}|{}",
        asked.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        codes.join(",")
    );
    let compute = async {
        // Scans counted in this process and not yet written are written first (before this
        // request takes its own connection: a request holding two connections at once starves
        // the pool under load). Skipped if a flush is already running: its counts are seconds
        // old.
        if let Err(e) = state.scans.flush_unless_running(&state.pool).await {
            tracing::warn!(error = %e, "scan counts not flushed before statistics");
        }
        // The report is the heaviest read there is: on a replica, when one has everything
        // committed before now (the flush above included; waiting up to 0.6 s for one to
        // replay it, as the report itself takes seconds of PostgreSQL at 10^5 merchants).
        if state.reads.has_replicas() {
            let floor = {
                let mut c = state.pool.get().await?;
                crate::cache::pages::write_position(&mut c).await
            };
            let found = state
                .reads
                .replica_conn_within(floor, std::time::Duration::from_millis(600))
                .await;
            if let Some((mut conn, target)) = found {
                match compute(&mut conn, &codes, &in_scope, asked.clone(), from, to, today).await {
                    Ok(r) => return Ok(Arc::new(r)),
                    Err(e) => {
                        tracing::warn!(error = %e, "statistics failed on a replica: reading the primary");
                        state.reads.failed(target);
                    }
                }
            }
        }
        let mut conn = state.pool.get().await?;
        compute(&mut conn, &codes, &in_scope, asked, from, to, today)
            .await
            .map(Arc::new)
    };
    // The same report asked again within STATS_CACHE_SECS (and at the same time by many) is
    // computed once: over 10^5 merchants each is seconds of PostgreSQL's CPU under load.
    if state.settings.stats_cache.is_zero() {
        return Ok((*compute.await?).clone());
    }
    match state.stats_cache.try_get_with(key, compute).await {
        Ok(r) => Ok((*r).clone()),
        Err(e) => Err(e.shared_copy()),
    }
}

async fn compute(
    conn: &mut diesel_async::AsyncPgConnection,
    codes: &[String],
    in_scope: &[db::regions::Region],
    asked: Option<RegionCode>,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> AppResult<StatsReport> {
    let codes = codes.to_vec();
    let merchants = db::stats::merchants(conn, &codes).await?;
    let complaints = db::stats::complaints(conn, &codes, from, to, today).await?;
    let scans = db::stats::scans(conn, &codes, from, to).await?;
    let inspections = db::stats::inspections(conn, &codes, from, to).await?;

    let mut by_region: BTreeMap<String, Indicators> = BTreeMap::new();
    for m in merchants {
        let e = by_region.entry(m.region_code).or_default();
        e.merchants.total += m.total;
        e.merchants.with_active_code += m.with_code;
        *e.merchants.by_category.entry(m.category).or_default() += m.total;
        *e.merchants.by_status.entry(m.status).or_default() += m.total;
        *e.merchants.by_grade.entry(m.grade).or_default() += m.total;
    }
    for c in complaints {
        let e = by_region.entry(c.region_code.clone()).or_default();
        e.complaints = ComplaintIndicators {
            received: c.received,
            handled: c.handled,
            on_time: c.on_time,
            overdue_open: c.overdue_open,
            satisfied: c.satisfied,
            basically_satisfied: c.basically_satisfied,
            dissatisfied: c.dissatisfied,
            amount_claimed_fen: c.amount_claimed_fen,
            amount_recovered_fen: c.amount_recovered_fen,
            ..Default::default()
        };
    }
    for s in scans {
        by_region.entry(s.region_code).or_default().scans = s.n;
    }
    for i in inspections {
        let e = by_region.entry(i.region_code).or_default();
        e.inspections.count = i.n;
        e.inspections.failed = i.failed;
        e.inspections.rectify = i.rectify;
    }
    // Every county in scope gets a row, with data or not; a prefecture only when merchants are
    // registered at it directly.
    let is_parent = |code: &str| {
        in_scope
            .iter()
            .any(|r| r.parent_code.as_deref() == Some(code))
    };
    let mut rows = Vec::new();
    let mut total = Indicators::default();
    for r in in_scope {
        let data = by_region.remove(&r.code);
        if data.is_none() && is_parent(&r.code) {
            continue;
        }
        let mut ind = data.unwrap_or_default();
        total.add(&ind);
        ind.finish();
        rows.push(RegionIndicators {
            region_code: r.code.clone(),
            region_name: r.name.clone(),
            indicators: ind,
        });
    }
    total.finish();
    Ok(StatsReport {
        region: asked.map(|r| r.to_string()),
        from,
        to,
        regions: rows,
        total,
    })
}
