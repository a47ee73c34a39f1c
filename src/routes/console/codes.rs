//! Shop codes in the console: issue, re-issue and revoke a merchant's code (re-issue and revoke
//! go through a confirmation page: the printed sticker stops working), the 30-day scan chart,
//! and `/console/codes`: issue codes to every merchant of a county without one, download the
//! county's posters.

use actix_web::{web, HttpRequest};
use askama::Template;
use serde::Deserialize;

use super::{page, posted, see_other, staff, Chrome, ConsoleError, ConsoleResult};
use crate::service;
use crate::service::codes::ScanStats;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/codes", web::get().to(codes_page))
        .route("/codes/issue", web::post().to(bulk_issue))
        .route("/merchants/{id}/qrcode", web::post().to(issue))
        .route(
            "/merchants/{id}/qrcode/confirm",
            web::get().to(confirm_page),
        )
        .route("/merchants/{id}/qrcode/reissue", web::post().to(issue))
        .route("/merchants/{id}/qrcode/revoke", web::post().to(revoke));
}

/// A bar chart of scans per day, drawn as SVG on the server (no script).
pub struct Chart {
    pub bars: Vec<(u32, u32, u32, String)>,
    pub max: i64,
    pub total: i64,
    pub width: u32,
    pub height: u32,
    pub first: String,
    pub last: String,
}

/// The last `days` days of `stats` as a chart (days without scans are zero-height bars).
pub fn chart(stats: &ScanStats, today: chrono::NaiveDate, days: u32) -> Chart {
    let (width, height) = (days * 12, 80u32);
    let counts: Vec<(chrono::NaiveDate, i64)> = (0..days)
        .map(|i| {
            let day = today - chrono::Days::new(u64::from(days - 1 - i));
            let n = stats
                .days
                .iter()
                .find(|d| d.day == day)
                .map(|d| d.count)
                .unwrap_or(0);
            (day, n)
        })
        .collect();
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, (day, n))| {
            let h = u32::try_from(*n * i64::from(height - 10) / max).unwrap_or(0);
            let i = u32::try_from(i).unwrap_or(0);
            (i * 12 + 1, height - h, h, format!("{day}: {n}"))
        })
        .collect();
    Chart {
        bars,
        max,
        total: stats.total,
        width,
        height,
        first: counts
            .first()
            .map(|(d, _)| d.to_string())
            .unwrap_or_default(),
        last: counts
            .last()
            .map(|(d, _)| d.to_string())
            .unwrap_or_default(),
    }
}

pub async fn issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, _form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    service::codes::issue(&state, c.user(), c.actor(&state, &req), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(see_other(&format!(
        "/console/merchants/{id}?done=issued#code"
    )))
}

pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, _form) = posted(&state, &req, payload).await?;
    let id = path.into_inner();
    service::codes::revoke(&state, c.user(), c.actor(&state, &req), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(see_other(&format!(
        "/console/merchants/{id}?done=revoked#code"
    )))
}

#[derive(Template)]
#[template(path = "console/code_confirm.html")]
pub struct ConfirmPage {
    pub c: Chrome,
    pub id: i64,
    pub name: String,
    pub code: String,
    pub revoke: bool,
}

#[derive(Deserialize)]
pub struct ConfirmQuery {
    action: Option<String>,
}

/// "The printed sticker stops working": the step before a re-issue or a revoke.
pub async fn confirm_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<i64>,
    q: web::Query<ConfirmQuery>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let id = path.into_inner();
    let (_, m) = service::merchants::get(&state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    let code = service::codes::show(&state, c.user(), id)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    page(&ConfirmPage {
        c: c.chrome(&state, "merchants"),
        id,
        name: m.name,
        code: code.code,
        revoke: q.action.as_deref() == Some("revoke"),
    })
}

pub struct CountyRow {
    pub code: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "console/codes.html")]
pub struct CodesPage {
    pub c: Chrome,
    pub counties: Vec<CountyRow>,
    pub flash: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    issued: Option<usize>,
    region: Option<String>,
}

pub async fn codes_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = staff(&state, &req).await?;
    let counties = super::region_options(&state, &c)
        .await?
        .into_iter()
        .map(|(code, label)| CountyRow {
            name: label.trim_start_matches(code.as_str()).trim().to_owned(),
            code,
        })
        .collect();
    let flash = match (q.issued, &q.region) {
        (Some(n), Some(r)) => Some(c.words().f2(
            "console.codes.done",
            &[("n", &n.to_string()), ("region", r)],
        )),
        _ => None,
    };
    let mut chrome = c.chrome(&state, "codes");
    chrome.flash = flash.clone();
    page(&CodesPage {
        c: chrome,
        counties,
        flash,
    })
}

pub async fn bulk_issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    let region = form.get("region_code").trim().to_owned();
    let issued = service::codes::bulk_issue(&state, c.user(), c.actor(&state, &req), &region)
        .await
        .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(see_other(&format!(
        "/console/codes?issued={}&region={}",
        issued.issued,
        form_urlencoded::byte_serialize(region.as_bytes()).collect::<String>()
    )))
}
