//! Shop codes and their QR images (一码).

use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::shop_codes::ShopCodeRow;
use crate::domain::region::RegionCode;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::Query;
use crate::pages::poster::Poster;
use crate::qr;
use crate::routes::actor;
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ShopCodeView {
    pub code: String,
    /// `{PUBLIC_BASE_URL}/s/{code}`: what the QR code holds.
    pub url: String,
    pub issued_at: DateTime<Utc>,
}

/// The public URL of a code.
pub fn code_url(state: &AppState, code: &str) -> String {
    format!(
        "{}/s/{code}",
        state.settings.public_base_url.trim_end_matches('/')
    )
}

/// Runs QR and poster work on the blocking pool, off the reactor.
async fn off_reactor<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> AppResult<T> {
    Ok(web::block(work)
        .await
        .map_err(|e| anyhow::anyhow!("image worker failed: {e}"))??)
}

/// An image for staff (not cached by shared proxies), optionally with a file name.
fn image_response(content_type: &str, file: Option<String>, body: Vec<u8>) -> HttpResponse {
    let mut b = HttpResponse::Ok();
    b.content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"));
    if let Some(file) = file {
        b.insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{file}\""),
        ));
    }
    b.body(body)
}

fn view(state: &AppState, row: &ShopCodeRow) -> ShopCodeView {
    ShopCodeView {
        code: row.code.clone(),
        url: code_url(state, &row.code),
        issued_at: row.issued_at,
    }
}

async fn merchant_region(
    conn: &mut diesel_async::AsyncPgConnection,
    id: i64,
) -> AppResult<RegionCode> {
    let m = db::merchants::find(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    RegionCode::parse(&m.region_code)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored region {}: {e}", m.region_code)))
}

/// A connection and the audit actor, once the caller is known to manage merchant `id`.
async fn managing(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(crate::db::DbConn, crate::db::audit::Actor)> {
    let mut conn = state.pool.get().await?;
    let region = merchant_region(&mut conn, id).await?;
    policy::manage_merchant(user, id, &region).check()?;
    Ok((conn, actor(user, req, &state.settings.trusted_proxies)))
}

/// Issue the merchant's code, or re-issue it: the previous code then answers 410 on its page.
#[utoipa::path(operation_id = "issue_qrcode", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 201, body = ShopCodeView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/qrcode")]
pub async fn issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (mut conn, actor) = managing(&state, &req, &user, id).await?;
    let by = Some(user.id);
    let row =
        diesel_async::AsyncConnection::transaction::<_, AppError, _>(&mut conn, async |conn| {
            // Lock the merchant so that two concurrent issues serialise.
            db::merchants::get_for_update(conn, id).await?;
            let old = db::shop_codes::revoke_active(conn, id, by, "reissued").await?;
            let new = db::shop_codes::insert_new(conn, id, by).await?;
            db::audit::record(
                conn,
                &actor,
                if old.is_some() {
                    "qrcode.reissue"
                } else {
                    "qrcode.issue"
                },
                "merchant",
                &id.to_string(),
                old.as_ref(),
                Some(&new),
            )
            .await?;
            Ok(new)
        })
        .await?;
    state.pages.invalidate_merchants(&mut conn, &[id]).await;
    let body = view(&state, &row);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, body.url.clone()))
        .json(body))
}

/// Revoke the merchant's code (its page then answers 410). 404 when it has none.
#[utoipa::path(operation_id = "revoke_qrcode", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/merchants/{id}/qrcode")]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let (mut conn, actor) = managing(&state, &req, &user, id).await?;
    let by = Some(user.id);
    diesel_async::AsyncConnection::transaction::<_, AppError, _>(&mut conn, async |conn| {
        let old = db::shop_codes::revoke_active(conn, id, by, "revoked")
            .await?
            .ok_or(AppError::NotFound)?;
        db::audit::record(
            conn,
            &actor,
            "qrcode.revoke",
            "merchant",
            &id.to_string(),
            Some(&old),
            None::<&()>,
        )
        .await?;
        Ok(())
    })
    .await?;
    state.pages.invalidate_merchants(&mut conn, &[id]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// The active code (regulators of the merchant and the merchant itself). 404 when none.
#[utoipa::path(operation_id = "get_qrcode", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = ShopCodeView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/qrcode")]
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<ShopCodeView>> {
    let row = visible_active(&state, &user, path.into_inner()).await?;
    Ok(web::Json(view(&state, &row)))
}

async fn visible_active(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<ShopCodeRow> {
    let mut conn = state.pool.get().await?;
    let region = merchant_region(&mut conn, id).await?;
    policy::view_merchant(user, id, &region).check()?;
    db::shop_codes::active_for(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SizeQuery {
    /// Side of the PNG in pixels, 128–2048 (default 512).
    #[param(minimum = 128, maximum = 2048)]
    pub size: Option<u32>,
}

/// The code alone as a PNG (level Q, quiet zone 4).
#[utoipa::path(operation_id = "get_qrcode_png", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path), SizeQuery), responses(
    (status = 200, content_type = "image/png"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/qrcode.png")]
pub async fn qrcode_png(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: Query<SizeQuery>,
) -> AppResult<HttpResponse> {
    let size = query.size.unwrap_or(qr::DEFAULT_SIZE);
    if !(qr::MIN_SIZE..=qr::MAX_SIZE).contains(&size) {
        return Err(AppError::validation(FieldError::new(
            "size",
            "out_of_range",
            format!("size is {}–{} pixels", qr::MIN_SIZE, qr::MAX_SIZE),
        )));
    }
    let row = visible_active(&state, &user, path.into_inner()).await?;
    let url = code_url(&state, &row.code);
    let bytes = off_reactor(move || qr::png(&url, size)).await?;
    Ok(image_response("image/png", None, bytes))
}

/// The code alone as SVG.
#[utoipa::path(operation_id = "get_qrcode_svg", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, content_type = "image/svg+xml"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/qrcode.svg")]
pub async fn qrcode_svg(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let row = visible_active(&state, &user, path.into_inner()).await?;
    let url = code_url(&state, &row.code);
    let text = off_reactor(move || qr::svg(&url)).await?;
    Ok(image_response("image/svg+xml", None, text.into_bytes()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkIssued {
    /// Codes issued now (merchants that are not closed and had no active code).
    pub issued: usize,
}

/// Issue codes for every merchant in a region (a prefecture: all its counties) that is not
/// closed and has no active code. One transaction, one audit event.
#[utoipa::path(operation_id = "issue_region_qrcodes", tag = "qrcodes", security(("bearer" = [])), params(("code" = String, Path, description = "region code")), responses(
    (status = 200, body = BulkIssued),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/regions/{code}/qrcodes")]
pub async fn bulk_issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
) -> AppResult<web::Json<BulkIssued>> {
    let mut conn = state.pool.get().await?;
    let (region, covered) = covered_regions(&mut conn, &user, &path).await?;
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let by = Some(user.id);
    let issued =
        diesel_async::AsyncConnection::transaction::<_, AppError, _>(&mut conn, async |conn| {
            let ids = db::shop_codes::merchants_without_code(conn, &covered).await?;
            let rows = db::shop_codes::insert_many(conn, &ids, by).await?;
            if !rows.is_empty() {
                let summary = serde_json::json!({
                    "region": region.as_str(),
                    "issued": rows.iter().map(|r| (r.merchant_id, &r.code)).collect::<Vec<_>>(),
                });
                db::audit::record(
                    conn,
                    &actor,
                    "qrcode.bulk_issue",
                    "region",
                    region.as_str(),
                    None::<&()>,
                    Some(&summary),
                )
                .await?;
            }
            Ok(rows.len())
        })
        .await?;
    tracing::info!(region = %region, issued, by = user.id, "codes issued in bulk");
    Ok(web::Json(BulkIssued { issued }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ScansQuery {
    /// Days back from today (China time), 1–366 (default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayCount {
    pub day: chrono::NaiveDate,
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanStats {
    pub total: i64,
    /// Days with scans, oldest first.
    pub days: Vec<DayCount>,
}

/// Scans of the merchant's codes per day (counted in memory, written every few seconds).
#[utoipa::path(operation_id = "get_merchant_scans", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path), ScansQuery), responses(
    (status = 200, body = ScanStats),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/scans")]
pub async fn scans(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: Query<ScansQuery>,
) -> AppResult<web::Json<ScanStats>> {
    let days = query.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(AppError::validation(FieldError::new(
            "days",
            "out_of_range",
            "days is 1–366",
        )));
    }
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let region = merchant_region(&mut conn, id).await?;
    policy::view_merchant(&user, id, &region).check()?;
    let today = crate::domain::time::china_date(Utc::now());
    let from = today - chrono::Days::new(days as u64 - 1);
    let rows = db::shop_codes::scans_of(&mut conn, id, from).await?;
    Ok(web::Json(ScanStats {
        total: rows.iter().map(|(_, n)| n).sum(),
        days: rows
            .into_iter()
            .map(|(day, count)| DayCount { day, count })
            .collect(),
    }))
}

/// What a poster shows: the active code, the shop's name, the code's URL.
async fn poster_facts(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(String, String, String)> {
    let row = visible_active(state, user, id).await?;
    let name = {
        let mut conn = state.pool.get().await?;
        db::merchants::find(&mut conn, id)
            .await?
            .ok_or(AppError::NotFound)?
            .name
    };
    let url = code_url(state, &row.code);
    Ok((row.code, name, url))
}

/// The print-ready poster (A6, 300 dpi) as SVG: programme title, shop name, the code and its
/// text, instructions in Chinese and English, the hotline.
#[utoipa::path(operation_id = "get_poster_svg", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, content_type = "image/svg+xml"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/poster.svg")]
pub async fn poster_svg(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (code, name, url) = poster_facts(&state, &user, path.into_inner()).await?;
    let file = format!("{code}.svg");
    let text = off_reactor(move || Poster::new(&name, &code, &url)?.svg()).await?;
    Ok(image_response(
        "image/svg+xml",
        Some(file),
        text.into_bytes(),
    ))
}

/// The same poster as a 1240×1748 PNG with the Chinese text rendered from an installed CJK
/// font (503 if none is installed, rather than a poster with missing characters).
#[utoipa::path(operation_id = "get_poster_png", tag = "qrcodes", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, content_type = "image/png"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/poster.png")]
pub async fn poster_png(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    if crate::pages::poster::cjk_family().is_none() {
        return Err(AppError::Unavailable {
            detail: "no font with Chinese glyphs is installed on the server (fonts-noto-cjk)",
            retry_after_secs: 3600,
        });
    }
    let (code, name, url) = poster_facts(&state, &user, path.into_inner()).await?;
    let file = format!("{code}.png");
    let png = off_reactor(move || Poster::new(&name, &code, &url)?.png()).await?;
    Ok(image_response("image/png", Some(file), png))
}

/// What the thread writing a zip hands to the response body.
enum ZipPart {
    Bytes(web::Bytes),
    /// The zip is complete: the body may end.
    Done,
    /// Writing stopped half-way: the body must fail, not end.
    Failed(String),
}

/// A `Write` that hands its bytes to an async body stream through a bounded channel (the zip is
/// written on a blocking thread while the response streams it out).
struct ChannelWriter(tokio::sync::mpsc::Sender<ZipPart>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(ZipPart::Bytes(web::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A zip of `items`, each rendered by `render` into (file name, bytes) on a blocking thread, as
/// a body stream that ends only when the zip is complete. When a render fails half-way (or the
/// thread panics), the stream ends in an error, so actix drops the connection: the client sees
/// an incomplete download, never a 200 that ends cleanly on a truncated zip that looks whole.
fn zip_stream<T, F>(
    items: Vec<T>,
    compression: zip::CompressionMethod,
    render: F,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>>
where
    T: Send + 'static,
    F: Fn(T) -> anyhow::Result<(String, Vec<u8>)> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<ZipPart>(16);
    tokio::task::spawn_blocking(move || {
        let status = tx.clone();
        let mut zip = zip::ZipWriter::new_stream(ChannelWriter(tx));
        let options = zip::write::SimpleFileOptions::default().compression_method(compression);
        let write_all = || -> anyhow::Result<()> {
            for item in items {
                let (name, bytes) = render(item)?;
                zip.start_file(name, options)?;
                std::io::Write::write_all(&mut zip, &bytes)?;
            }
            Ok(())
        };
        let result = write_all().and_then(|()| Ok(zip.finish().map(drop)?));
        // On failure the message goes first: whatever the dropped writer still writes (its
        // central directory) arrives after it, when the body has already failed.
        let last = match result {
            Ok(()) => ZipPart::Done,
            Err(e) => {
                tracing::warn!(error = %e, "poster zip stopped");
                ZipPart::Failed(e.to_string())
            }
        };
        // The client may have gone: nobody to tell.
        let _ = status.blocking_send(last);
    });
    futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let item = match rx.recv().await {
            Some(ZipPart::Bytes(b)) => return Some((Ok(b), Some(rx))),
            Some(ZipPart::Done) => return None,
            Some(ZipPart::Failed(e)) => e,
            None => "the zip writer stopped without finishing".to_owned(),
        };
        let err = actix_web::error::ErrorInternalServerError(format!("zip incomplete: {item}"));
        Some((Err(err), None))
    })
}

/// The region codes `code` covers, if the caller may act there (404 otherwise).
async fn covered_regions(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &CurrentUser,
    code: &str,
) -> AppResult<(RegionCode, Vec<String>)> {
    policy::region_work(user).check()?;
    let region = RegionCode::parse(code).map_err(|_| AppError::NotFound)?;
    policy::act_on_region(user, &region).check()?;
    let covered: Vec<String> = db::regions::list(conn)
        .await?
        .into_iter()
        .filter(|r| {
            RegionCode::parse(&r.code)
                .map(|c| region.covers(&c))
                .unwrap_or(false)
        })
        .map(|r| r.code)
        .collect();
    if covered.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok((region, covered))
}

/// The poster file format of a zip.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PosterFormat {
    Svg,
    Png,
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ZipQuery {
    /// `svg` (default: vector, small, print-ready) or `png` (A6 at 300 dpi, rendered with the
    /// server's CJK font: slower, about 0.1 s a poster).
    #[param(inline, value_type = Option<PosterFormat>)]
    pub format: Option<String>,
}

/// Posters of every active code in a region, one file each named by USCC, as a zip that
/// streams while it is written.
#[utoipa::path(operation_id = "get_region_posters_zip", tag = "qrcodes", security(("bearer" = [])), params(("code" = String, Path, description = "region code"), ZipQuery), responses(
    (status = 200, content_type = "application/zip"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
#[get("/regions/{code}/qrcodes.zip")]
pub async fn region_zip(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: Query<ZipQuery>,
) -> AppResult<HttpResponse> {
    let png = match query.format.as_deref().map(str::trim) {
        None | Some("") | Some("svg") => false,
        Some("png") => true,
        Some(_) => {
            return Err(AppError::validation(crate::domain::FieldError::new(
                "format",
                "invalid_format",
                "format must be svg or png",
            )))
        }
    };
    if png && crate::pages::poster::cjk_family().is_none() {
        return Err(AppError::Unavailable {
            detail: "no font with Chinese glyphs is installed on the server (fonts-noto-cjk)",
            retry_after_secs: 3600,
        });
    }
    let mut conn = state.pool.get().await?;
    let (region, covered) = covered_regions(&mut conn, &user, &path).await?;
    let codes = db::shop_codes::active_in(&mut conn, &covered).await?;
    drop(conn);
    let base = state
        .settings
        .public_base_url
        .trim_end_matches('/')
        .to_owned();
    let count = codes.len();
    // PNG is compressed already: stored as it is.
    let compression = if png {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let body = zip_stream(codes, compression, move |(code, uscc, name)| {
        let url = format!("{base}/s/{code}");
        let poster = Poster::new(&name, &code, &url)?;
        Ok(if png {
            (format!("{uscc}.png"), poster.png()?)
        } else {
            (format!("{uscc}.svg"), poster.svg()?.into_bytes())
        })
    });
    tracing::info!(region = %region, posters = count, by = user.id, "poster zip");
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"qrcodes-{region}.zip\""),
        ))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Body = std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> + Send>,
    >;

    /// Serves `body` once over real HTTP and reads it as a client does.
    async fn fetch(
        body: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> + Send + 'static,
    ) -> Result<Vec<u8>, String> {
        let body: Body = Box::pin(body);
        let body = web::Data::new(std::sync::Mutex::new(Some(body)));
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().app_data(body.clone()).route(
                "/",
                web::get().to(|b: web::Data<std::sync::Mutex<Option<Body>>>| async move {
                    let s = b.lock().unwrap().take().unwrap();
                    HttpResponse::Ok().streaming(s)
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let resp = reqwest::get(format!("http://{addr}/"))
            .await
            .map_err(|e| e.to_string());
        let out = match resp {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                r.bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e),
        };
        handle.stop(false).await;
        out
    }

    fn render(fail_at: Option<usize>) -> impl Fn(usize) -> anyhow::Result<(String, Vec<u8>)> {
        move |i| {
            anyhow::ensure!(Some(i) != fail_at, "poster {i} cannot be rendered");
            // Incompressible enough that the first posters leave before the failure.
            let bytes = (0..200_000u32)
                .map(|n| (n.wrapping_mul(2_654_435_761) >> (i % 7 + 8)) as u8)
                .collect();
            Ok((format!("{i}.bin"), bytes))
        }
    }

    #[actix_web::test]
    async fn a_complete_zip_ends_cleanly() {
        let body = zip_stream(
            (0..6).collect(),
            zip::CompressionMethod::Stored,
            render(None),
        );
        let bytes = fetch(body).await.expect("a complete body");
        let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(zip.len(), 6);
    }

    #[actix_web::test]
    async fn a_zip_that_fails_half_way_aborts_the_download() {
        let body = zip_stream(
            (0..6).collect(),
            zip::CompressionMethod::Stored,
            render(Some(3)),
        );
        let got = fetch(body).await;
        assert!(got.is_err(), "a truncated zip ended like a complete one");
    }
}
