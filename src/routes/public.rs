//! What a consumer reaches by scanning: the shop page and the same content as JSON, served from
//! the page cache (pre-compressed, ETag/304), rendered at most once per key at a time.

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::cache::pages::{brotli_fast, gzip_fast, CachedPage, ReadFloor, Rendered};
use crate::domain::shop_code::ShopCode;
use crate::domain::time::{china_date, china_offset};
use crate::error::{AppError, AppResult, Problem};
use crate::pages::shop::{Lookup, MissingPage, PublicShop, ShopPage, Words};
use crate::state::AppState;

/// Browsers may reuse a page briefly, and serve it stale while they refetch. A shared cache
/// in front of the instances (the nginx micro-cache of `deploy/nginx.conf`) keeps it one
/// second (`s-maxage`): an edit shows through it after at most that, and a burst of scans of
/// one page still costs the instances one request a second.
pub const CACHE_CONTROL: &str = "public, max-age=15, s-maxage=1, stale-while-revalidate=60";
/// How long a client should wait when the database is down and the page is not cached.
const RETRY_AFTER_SECS: u64 = 30;

/// The languages of the pages (one locale file each).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Zh,
    En,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// `zh` (default) or `en`; otherwise `Accept-Language` decides.
    #[param(inline, value_type = Option<Lang>)]
    pub lang: Option<String>,
}

/// The page's language: `?lang=` wins, then the first language of `Accept-Language` that the
/// product speaks, then Chinese.
pub fn language(req: &HttpRequest, asked: Option<&str>) -> &'static str {
    let known = |tag: &str| -> Option<&'static str> {
        let primary = tag
            .trim()
            .split(['-', '_', ';'])
            .next()?
            .to_ascii_lowercase();
        crate::i18n::languages().find(|l| *l == primary)
    };
    if let Some(l) = asked.and_then(known) {
        return l;
    }
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(known))
        .unwrap_or("zh")
}

/// The start of a China-time day, as an instant.
fn china_midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(china_offset()).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn fresh_until(shop: &PublicShop) -> DateTime<Utc> {
    shop.changes_at
        .map(china_midnight)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

async fn lookup(state: &AppState, code: &ShopCode, floor: ReadFloor) -> AppResult<Lookup> {
    crate::service::shops::lookup(state, code.as_str(), china_date(Utc::now()), floor).await
}

fn rendered<T: Template>(page: &T) -> AppResult<Vec<u8>> {
    page.render()
        .map(String::into_bytes)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template rendering failed: {e}")))
}

const HTML: &str = "text/html; charset=utf-8";

fn missing(status: u16, key: &'static str, lang: &'static str) -> AppResult<Rendered> {
    let body = rendered(&MissingPage {
        t: Words { lang },
        key,
    })?;
    Ok(Rendered {
        status,
        content_type: HTML,
        body,
        fresh_until: DateTime::<Utc>::MAX_UTC,
        cacheable: status != 404,
    })
}

/// Serves a cached page: 304 when the client has it, else the bytes in its best encoding.
pub fn respond(req: &HttpRequest, page: &CachedPage) -> HttpResponse {
    let enc = crate::pages::security::encoding(req.headers());
    // Cached pages carry their compressed copies; a page rendered for one response is
    // compressed here, for the one encoding asked for. Each encoding is its own
    // representation, so its own strong validator (built once with the page).
    let (body, etag) = match enc {
        Some("br") if page.brotli.is_empty() => (brotli_fast(&page.identity), 2),
        Some("br") => (page.brotli.clone(), 2),
        Some("gzip") if page.gzip.is_empty() => (gzip_fast(&page.identity), 1),
        Some("gzip") => (page.gzip.clone(), 1),
        _ => (page.identity.clone(), 0),
    };
    let base = page.etag.trim_matches('"');
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                let t = t.trim().trim_start_matches("W/").trim_matches('"');
                t == "*" || t.strip_suffix("-br").or(t.strip_suffix("-gz")).unwrap_or(t) == base
            })
        });
    let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
    let mut b = if matches && status == StatusCode::OK {
        HttpResponse::NotModified()
    } else {
        HttpResponse::build(status)
    };
    b.insert_header((header::ETAG, page.headers.etags[etag].clone()))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ))
        .insert_header((
            header::VARY,
            HeaderValue::from_static("Accept-Encoding, Accept-Language"),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if let Some([csp, referrer]) = &page.headers.html {
        b.insert_header((header::CONTENT_SECURITY_POLICY, csp.clone()))
            .insert_header((header::REFERRER_POLICY, referrer.clone()));
    }
    if matches && status == StatusCode::OK {
        return b.finish();
    }
    b.insert_header((header::CONTENT_TYPE, page.headers.content_type.clone()));
    if let Some(e) = enc {
        b.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static(e)));
    }
    b.body(body)
}

/// Serves what the cache has when rendering failed because a dependency is down; otherwise
/// a 503 page with Retry-After.
async fn degraded(
    state: &AppState,
    req: &HttpRequest,
    key: &str,
    lang: &'static str,
    err: AppError,
) -> AppResult<HttpResponse> {
    match err {
        AppError::Unavailable { .. } | AppError::Internal(_) => {
            if let Some(p) = state.pages.get_any(key).await {
                tracing::warn!(
                    key,
                    "serving a cached page while the database is unavailable"
                );
                return Ok(respond(req, &p));
            }
            let page = missing(503, "page.unavailable", lang)?.uncompressed();
            let mut resp = respond(req, &page);
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(RETRY_AFTER_SECS),
            );
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            Ok(resp)
        }
        other => Err(other),
    }
}

/// The scan page: who the shop is, its grade and why, licences, inspections, credit records.
/// 404 page for an unknown code, 410 page for a withdrawn one; 503 with Retry-After only when
/// PostgreSQL is down and the page is not cached.
#[utoipa::path(operation_id = "scan_page", tag = "public", params(("code" = String, Path), LangQuery), responses(
    (status = 200, content_type = "text/html", headers(("ETag" = String))),
    (status = 304),
    (status = 404, content_type = "text/html"),
    (status = 410, content_type = "text/html"),
    (status = 503, content_type = "text/html"),
))]
#[get("/s/{code}")]
pub async fn shop_page(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let started = std::time::Instant::now();
    let result = serve_shop_page(state, &req).await;
    let elapsed = started.elapsed();
    crate::cache::pages::metrics::SCAN_PAGE_SECONDS.observe(elapsed.as_secs_f64());
    // The request log line other routes get from the middleware.
    if tracing::enabled!(target: "yidianyima::request", tracing::Level::INFO) {
        let status = match &result {
            Ok(r) => r.status().as_u16(),
            Err(e) => actix_web::ResponseError::status_code(e).as_u16(),
        };
        tracing::info!(
            target: "yidianyima::request",
            method = %"GET",
            route = "/s/{code}",
            path = req.path(),
            status,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    result
}

async fn serve_shop_page(state: web::Data<AppState>, req: &HttpRequest) -> AppResult<HttpResponse> {
    let req = req.clone();
    // Read straight from the request (no allocating extractors on the hottest path).
    let asked = req
        .query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("lang="));
    let lang = language(&req, asked);
    let Some(code) = ShopCode::parse(req.match_info().get("code").unwrap_or_default()) else {
        return Ok(respond(
            &req,
            &missing(404, "page.not_found", lang)?.uncompressed(),
        ));
    };
    let key = crate::cache::pages::page_key(code.as_str(), lang);
    let code_text = code.to_string();
    let state2: Arc<AppState> = state.clone().into_inner();
    let result = state
        .pages
        .get_or_render(&key, |floor| async move {
            match lookup(&state2, &code, floor).await? {
                Lookup::Found(shop) => Ok(Rendered {
                    status: 200,
                    content_type: HTML,
                    body: rendered(&ShopPage::new(&shop, lang, state2.settings.bureau(lang)))?,
                    fresh_until: fresh_until(&shop),
                    cacheable: true,
                }),
                Lookup::Withdrawn => missing(410, "page.gone", lang),
                // Not kept: the code may be issued later.
                Lookup::Unknown => missing(404, "page.not_found", lang),
            }
        })
        .await;
    match result {
        Ok(page) => {
            if page.status == 200 {
                state.scans.record(&code_text, china_date(Utc::now()));
            }
            Ok(respond(&req, &page))
        }
        Err(e) => degraded(&state, &req, &key, lang, e).await,
    }
}

/// The scan page's content as JSON. 404 unknown, 410 `code_withdrawn`.
#[utoipa::path(operation_id = "get_public_shop", tag = "public", params(("code" = String, Path)), responses(
    (status = 200, body = PublicShop, headers(("ETag" = String))),
    (status = 304),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 410, body = Problem, content_type = "application/problem+json"),
))]
#[get("/public/shops/{code}")]
pub async fn shop_json(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let Some(code) = ShopCode::parse(&path) else {
        return Err(AppError::NotFound);
    };
    let key = crate::cache::pages::page_key(code.as_str(), "json");
    let state2: Arc<AppState> = state.clone().into_inner();
    let result = state
        .pages
        .get_or_render(&key, |floor| async move {
            match lookup(&state2, &code, floor).await? {
                Lookup::Found(shop) => {
                    json_page(200, "application/json", &*shop, true, fresh_until(&shop))
                }
                Lookup::Withdrawn => {
                    let p = AppError::Gone {
                        code: "code_withdrawn",
                        detail: "this shop code was withdrawn by the regulator; use the newest \
                                 code in the shop"
                            .into(),
                    }
                    .problem();
                    json_page(
                        410,
                        "application/problem+json",
                        &p,
                        true,
                        DateTime::<Utc>::MAX_UTC,
                    )
                }
                Lookup::Unknown => json_page(
                    404,
                    "application/problem+json",
                    &AppError::NotFound.problem(),
                    false,
                    DateTime::<Utc>::MAX_UTC,
                ),
            }
        })
        .await;
    match result {
        Ok(page) => Ok(respond(&req, &page)),
        Err(e @ (AppError::Unavailable { .. } | AppError::Internal(_))) => {
            match state.pages.get_any(&key).await {
                Some(p) => Ok(respond(&req, &p)),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

fn json_page<T: serde::Serialize>(
    status: u16,
    content_type: &'static str,
    value: &T,
    cacheable: bool,
    fresh_until: DateTime<Utc>,
) -> AppResult<Rendered> {
    Ok(Rendered {
        status,
        content_type,
        body: serde_json::to_vec(value).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?,
        fresh_until,
        cacheable,
    })
}
