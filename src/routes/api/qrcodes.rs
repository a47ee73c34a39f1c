//! Shop codes and their QR images (一码).

use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::Query;
use crate::pages::poster::Poster;
use crate::routes::actor;
use crate::service::codes as svc;
use crate::state::AppState;

pub use crate::service::codes::{code_url, BulkIssued, DayCount, ScanStats, ShopCodeView};

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
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let body = svc::issue(&state, &user, actor, path.into_inner()).await?;
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
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    svc::revoke(&state, &user, actor, path.into_inner()).await?;
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
    Ok(web::Json(
        svc::show(&state, &user, path.into_inner()).await?,
    ))
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
    let bytes = svc::qrcode_png(&state, &user, path.into_inner(), query.size).await?;
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
    let text = svc::qrcode_svg(&state, &user, path.into_inner()).await?;
    Ok(image_response("image/svg+xml", None, text.into_bytes()))
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
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::bulk_issue(&state, &user, actor, &path).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ScansQuery {
    /// Days back from today (China time), 1–366 (default 30).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
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
    Ok(web::Json(
        svc::scans(&state, &user, path.into_inner(), query.days).await?,
    ))
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
    let (file, text) = svc::poster_svg(&state, &user, path.into_inner()).await?;
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
    let (file, png) = svc::poster_png(&state, &user, path.into_inner()).await?;
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
    let svc::RegionPosters { region, png, codes } =
        svc::region_posters(&state, &user, &path, query.format.as_deref()).await?;
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
