//! What a consumer reaches by scanning: the shop page and the same content as JSON.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::shop_code::ShopCode;
use crate::domain::time::china_date;
use crate::error::{AppError, AppResult, Problem};
use crate::pages::shop::{self, Lookup, MissingPage, PublicShop, ShopPage, Words};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct LangQuery {
    /// `zh` (default) or `en`; otherwise `Accept-Language` decides.
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

async fn lookup(state: &AppState, raw: &str) -> AppResult<Lookup> {
    let Some(code) = ShopCode::parse(raw) else {
        return Ok(Lookup::Unknown);
    };
    let mut conn = state.pool.get().await?;
    Ok(shop::load(&mut conn, code.as_str(), china_date(chrono::Utc::now())).await?)
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Accept-Language"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}

fn rendered<T: Template>(page: &T) -> AppResult<String> {
    page.render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template rendering failed: {e}")))
}

/// The scan page: who the shop is, its grade and why, licences, inspections, credit records.
/// 404 page for an unknown code, 410 page for a withdrawn one.
#[utoipa::path(tag = "public", params(("code" = String, Path), LangQuery), responses(
    (status = 200, content_type = "text/html"),
    (status = 404, content_type = "text/html"),
    (status = 410, content_type = "text/html"),
))]
#[get("/s/{code}")]
pub async fn shop_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
) -> AppResult<HttpResponse> {
    let lang = language(&req, query.lang.as_deref());
    match lookup(&state, &path).await? {
        Lookup::Found(shop) => Ok(html(StatusCode::OK, rendered(&ShopPage::new(&shop, lang))?)),
        Lookup::Withdrawn => Ok(html(
            StatusCode::GONE,
            rendered(&MissingPage {
                t: Words { lang },
                key: "page.gone",
            })?,
        )),
        Lookup::Unknown => Ok(html(
            StatusCode::NOT_FOUND,
            rendered(&MissingPage {
                t: Words { lang },
                key: "page.not_found",
            })?,
        )),
    }
}

/// The scan page's content as JSON. 404 unknown, 410 `code_withdrawn`.
#[utoipa::path(tag = "public", params(("code" = String, Path)), responses(
    (status = 200, body = PublicShop),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 410, body = Problem, content_type = "application/problem+json"),
))]
#[get("/public/shops/{code}")]
pub async fn shop_json(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    match lookup(&state, &path).await? {
        Lookup::Found(shop) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .json(shop)),
        Lookup::Withdrawn => Err(AppError::Gone {
            code: "code_withdrawn",
            detail:
                "this shop code was withdrawn by the regulator; use the newest code in the shop"
                    .into(),
        }),
        Lookup::Unknown => Err(AppError::NotFound),
    }
}
