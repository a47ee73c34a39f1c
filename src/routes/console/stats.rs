//! `/console/stats`: the indicators per county for a period, as a table and as bar charts drawn
//! on the server (handled rate, on-time rate, satisfaction, amount recovered), with CSV and XLSX
//! links for the same selection.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{html, staff, unprocessable, Chrome, ConsoleError, ConsoleResult, FormState};
use crate::error::AppError;
use crate::pages::complaint::yuan;
use crate::service;
use crate::service::stats::{StatsInput, StatsReport};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/stats", web::get().to(show));
}

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    region: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// One horizontal bar chart: a row per county.
pub struct BarChart {
    pub title: String,
    pub rows: Vec<(String, u32, String)>,
    pub height: u32,
}

const BAR_WIDTH: f64 = 300.0;

fn bars(title: String, items: Vec<(String, Option<f64>, String)>) -> BarChart {
    let max = items
        .iter()
        .filter_map(|(_, v, _)| *v)
        .fold(0.0_f64, f64::max)
        .max(f64::EPSILON);
    let rows: Vec<(String, u32, String)> = items
        .into_iter()
        .map(|(name, v, label)| {
            let w = v.map(|v| (v / max * BAR_WIDTH).round() as u32).unwrap_or(0);
            (name, w, label)
        })
        .collect();
    let height = u32::try_from(rows.len()).unwrap_or(0) * 22 + 4;
    BarChart {
        title,
        rows,
        height,
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

#[derive(Template)]
#[template(path = "console/stats.html")]
pub struct StatsPage {
    pub c: Chrome,
    pub form: FormState,
    pub report: Option<StatsReport>,
    pub charts: Vec<BarChart>,
    pub regions: Vec<(String, String)>,
    pub query: String,
}

impl StatsPage {
    pub fn pct(&self, v: &Option<f64>) -> String {
        pct(*v)
    }
    pub fn yuan(&self, fen: &i64) -> String {
        yuan(*fen)
    }
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Params>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let t = c.words();
    let input = StatsInput {
        region: q.region.clone().filter(|s| !s.trim().is_empty()),
        from: q.from.clone().filter(|s| !s.trim().is_empty()),
        to: q.to.clone().filter(|s| !s.trim().is_empty()),
    };
    let mut values: HashMap<String, String> = HashMap::new();
    for (k, v) in [
        ("region", &input.region),
        ("from", &input.from),
        ("to", &input.to),
    ] {
        if let Some(v) = v {
            values.insert(k.to_owned(), v.clone());
        }
    }
    let (report, form) = match service::stats::report(&state, c.user(), &input).await {
        Ok(r) => {
            values.insert("from".into(), r.from.to_string());
            values.insert("to".into(), r.to.to_string());
            (Some(r), FormState::with(values))
        }
        Err(AppError::Validation(errors)) => (
            None,
            FormState {
                values,
                errors: super::Errors::from_fields(c.lang, &errors),
            },
        ),
        Err(e) => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let charts = match &report {
        Some(r) => {
            let per = |f: &dyn Fn(&service::stats::Indicators) -> (Option<f64>, String)| {
                r.regions
                    .iter()
                    .map(|x| {
                        let (v, l) = f(&x.indicators);
                        (x.region_name.clone(), v, l)
                    })
                    .collect::<Vec<_>>()
            };
            vec![
                bars(
                    t.s("console.stats.handled_rate").to_owned(),
                    per(&|i| (i.complaints.handled_rate, pct(i.complaints.handled_rate))),
                ),
                bars(
                    t.s("console.stats.on_time_rate").to_owned(),
                    per(&|i| (i.complaints.on_time_rate, pct(i.complaints.on_time_rate))),
                ),
                bars(
                    t.s("console.stats.satisfaction_rate").to_owned(),
                    per(&|i| {
                        (
                            i.complaints.satisfaction_rate,
                            pct(i.complaints.satisfaction_rate),
                        )
                    }),
                ),
                bars(
                    t.s("console.stats.recovered").to_owned(),
                    per(&|i| {
                        (
                            Some(i.complaints.amount_recovered_fen as f64),
                            format!("¥{}", yuan(i.complaints.amount_recovered_fen)),
                        )
                    }),
                ),
            ]
        }
        None => vec![],
    };
    let query = {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for k in ["region", "from", "to"] {
            let v = form.v(k);
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.finish()
    };
    let regions = super::region_options(&state, &c).await?;
    let failed = report.is_none();
    let body = html(&StatsPage {
        c: c.chrome(&state, "stats"),
        form,
        report,
        charts,
        regions,
        query,
    })?;
    Ok(if failed {
        unprocessable(body)
    } else {
        HttpResponse::Ok()
            .insert_header(("Content-Type", "text/html; charset=utf-8"))
            .body(body)
    })
}
