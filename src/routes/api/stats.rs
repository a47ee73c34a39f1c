//! The programme's indicators (统计指标) per county and in total, as JSON, CSV and XLSX.
//! Definitions (from the bureaus' performance-evaluation reports): docs/indicators.md.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::CurrentUser;
use crate::domain::merchant::{Category, Status};
use crate::error::{AppError, AppResult, Problem};
use crate::extract::Query;
use crate::service::stats as svc;
use crate::state::AppState;

pub use crate::service::stats::{
    ComplaintIndicators, Indicators, InspectionIndicators, MerchantIndicators, RegionIndicators,
    StatsInput, StatsReport,
};

#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// A region code (a prefecture covers its counties); default: the caller's jurisdiction.
    pub region: Option<String>,
    /// First day of the period (default: 1 January of this year).
    pub from: Option<String>,
    /// Last day of the period, inclusive (default: today).
    pub to: Option<String>,
}

impl StatsQuery {
    fn input(&self) -> StatsInput {
        StatsInput {
            region: self.region.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

/// Indicators per county and in total for a period.
#[utoipa::path(operation_id = "get_stats", tag = "stats", security(("bearer" = [])), params(StatsQuery), responses(
    (status = 200, body = StatsReport),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query<StatsQuery>,
) -> AppResult<web::Json<StatsReport>> {
    Ok(web::Json(svc::report(&state, &user, &query.input()).await?))
}

/// A table cell.
enum Cell {
    Text(String),
    Int(i64),
    Rate(Option<f64>),
}

/// The columns of the table: a stable key and a label (Chinese, from the locale file).
fn columns() -> Vec<(String, String)> {
    let t = |k: &str| crate::i18n::text("zh", k).to_owned();
    let mut cols: Vec<(String, String)> = Vec::new();
    let mut push = |key: String, label: String| cols.push((key, label));
    push("region_code".into(), t("stats.col.region_code"));
    push("region_name".into(), t("stats.col.region_name"));
    push("merchants".into(), t("stats.col.merchants"));
    push(
        "merchants_with_code".into(),
        t("stats.col.merchants_with_code"),
    );
    for c in Category::ALL {
        push(
            format!("category_{}", c.as_str()),
            format!(
                "{}·{}",
                t("stats.col.merchants"),
                t(&format!("category.{c}"))
            ),
        );
    }
    for s in Status::ALL {
        push(
            format!("status_{}", s.as_str()),
            format!("{}·{}", t("stats.col.merchants"), t(&format!("status.{s}"))),
        );
    }
    for g in ["A", "B", "C", "D"] {
        push(
            format!("grade_{g}"),
            format!("{}·{}", t("stats.col.merchants"), t(&format!("grade.{g}"))),
        );
    }
    for k in [
        "scans",
        "complaints_received",
        "complaints_handled",
        "handled_rate",
        "complaints_on_time",
        "on_time_rate",
        "overdue_open",
        "rated",
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
        "satisfaction_rate",
        "amount_claimed_fen",
        "amount_recovered_fen",
        "recovery_rate",
        "inspections",
        "inspections_failed",
        "inspections_rectify",
        "inspection_fail_rate",
    ] {
        push(k.into(), t(&format!("stats.col.{k}")));
    }
    cols
}

fn cells(code: &str, name: &str, i: &Indicators) -> Vec<Cell> {
    let m = &i.merchants;
    let c = &i.complaints;
    let n = |map: &BTreeMap<String, i64>, k: &str| Cell::Int(map.get(k).copied().unwrap_or(0));
    let mut row = vec![
        Cell::Text(code.into()),
        Cell::Text(name.into()),
        Cell::Int(m.total),
        Cell::Int(m.with_active_code),
    ];
    row.extend(Category::ALL.iter().map(|k| n(&m.by_category, k.as_str())));
    row.extend(Status::ALL.iter().map(|k| n(&m.by_status, k.as_str())));
    row.extend(["A", "B", "C", "D"].iter().map(|k| n(&m.by_grade, k)));
    row.extend([
        Cell::Int(i.scans),
        Cell::Int(c.received),
        Cell::Int(c.handled),
        Cell::Rate(c.handled_rate),
        Cell::Int(c.on_time),
        Cell::Rate(c.on_time_rate),
        Cell::Int(c.overdue_open),
        Cell::Int(c.rated),
        Cell::Int(c.satisfied),
        Cell::Int(c.basically_satisfied),
        Cell::Int(c.dissatisfied),
        Cell::Rate(c.satisfaction_rate),
        Cell::Int(c.amount_claimed_fen),
        Cell::Int(c.amount_recovered_fen),
        Cell::Rate(c.recovery_rate),
        Cell::Int(i.inspections.count),
        Cell::Int(i.inspections.failed),
        Cell::Int(i.inspections.rectify),
        Cell::Rate(i.inspections.fail_rate),
    ]);
    row
}

fn table(r: &StatsReport) -> Vec<Vec<Cell>> {
    let total_label = crate::i18n::text("zh", "stats.total");
    r.regions
        .iter()
        .map(|x| cells(&x.region_code, &x.region_name, &x.indicators))
        .chain(std::iter::once(cells("total", total_label, &r.total)))
        .collect()
}

fn file_name(r: &StatsReport, ext: &str) -> String {
    format!(
        "stats-{}-{}-{}.{ext}",
        r.region.as_deref().unwrap_or("all"),
        r.from,
        r.to
    )
}

/// The same indicators as CSV (UTF-8 with BOM, so Excel reads the Chinese; header of column
/// keys; rates as fractions; money in fen).
#[utoipa::path(operation_id = "get_stats_csv", tag = "stats", security(("bearer" = [])), params(StatsQuery), responses(
    (status = 200, content_type = "text/csv"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/stats.csv")]
pub async fn stats_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query<StatsQuery>,
) -> AppResult<HttpResponse> {
    let r = svc::report(&state, &user, &query.input()).await?;
    let mut w = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    let io = |e: csv::Error| AppError::Internal(anyhow::anyhow!("csv: {e}"));
    w.write_record(columns().iter().map(|(k, _)| k.as_str()))
        .map_err(io)?;
    for row in table(&r) {
        w.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Rate(Some(x)) => format!("{x:.4}"),
            Cell::Rate(None) => String::new(),
        }))
        .map_err(io)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", file_name(&r, "csv")),
        ))
        .body(body))
}

/// The same indicators as an Excel workbook: a row of Chinese labels, a row of column keys,
/// then one row per region and the total; rates formatted as percentages.
#[utoipa::path(operation_id = "get_stats_xlsx", tag = "stats", security(("bearer" = [])), params(StatsQuery), responses(
    (status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/stats.xlsx")]
pub async fn stats_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query<StatsQuery>,
) -> AppResult<HttpResponse> {
    let r = svc::report(&state, &user, &query.input()).await?;
    let name = file_name(&r, "xlsx");
    let bytes = web::block(move || -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        use rust_xlsxwriter::{Format, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name("indicators")?;
        let bold = Format::new().set_bold();
        let pct = Format::new().set_num_format("0.00%");
        for (col, (key, label)) in columns().iter().enumerate() {
            let col = col as u16;
            ws.write_string_with_format(0, col, label, &bold)?;
            ws.write_string(1, col, key)?;
        }
        for (i, row) in table(&r).iter().enumerate() {
            let y = i as u32 + 2;
            for (x, cell) in row.iter().enumerate() {
                let x = x as u16;
                match cell {
                    Cell::Text(s) => {
                        ws.write_string(y, x, s)?;
                    }
                    Cell::Int(n) => {
                        ws.write_number(y, x, *n as f64)?;
                    }
                    Cell::Rate(Some(v)) => {
                        ws.write_number_with_format(y, x, *v, &pct)?;
                    }
                    Cell::Rate(None) => {}
                }
            }
        }
        ws.set_freeze_panes(2, 2)?;
        wb.save_to_buffer()
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("xlsx task: {e}")))?
    .map_err(|e| AppError::Internal(anyhow::anyhow!("xlsx: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(bytes))
}
