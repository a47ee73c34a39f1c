//! Server-rendered pages (askama). One struct per page; templates live in `templates/`, and
//! every user-visible word lives there, not in Rust.

use actix_web::http::header;
use actix_web::{get, HttpResponse};
use askama::Template;

use crate::error::AppError;

pub mod complaint;
pub mod poster;
pub mod security;
pub mod shop;

/// Renders a page as a complete HTML response.
pub fn render<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    let html = page
        .render()
        .map_err(|e| anyhow::anyhow!("template rendering failed: {e}"))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(html))
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub version: &'static str,
}

/// What the service is, for someone who reaches the bare domain.
#[utoipa::path(operation_id = "landing_page", tag = "pages", responses((status = 200, content_type = "text/html")))]
#[get("/")]
pub async fn index() -> Result<HttpResponse, AppError> {
    render(&IndexPage {
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The site icon (a shop code in the programme's red), embedded in the binary.
const FAVICON: &[u8] = include_bytes!("../../assets/favicon.ico");

/// The icon browsers ask for; it changes only with a release.
#[utoipa::path(tag = "pages", responses((status = 200, content_type = "image/x-icon")))]
#[get("/favicon.ico")]
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/x-icon"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=604800"))
        .body(FAVICON)
}
