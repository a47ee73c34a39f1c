//! Merchant photos: multipart upload, validated by content, re-encoded without metadata, stored
//! in PostgreSQL (display size and a ≤ 30 KB thumbnail) and served from `/media/photos/…`.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::auth::CurrentUser;
use crate::domain::merchant::PhotoKind;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::routes::actor;
use crate::service::merchants::PhotoView;
use crate::service::photos as svc;
use crate::state::AppState;

/// Largest upload accepted (the API's 20 MiB upload limit).
pub const MAX_UPLOAD: usize = 20 * 1024 * 1024;

/// The parts of the form we read.
pub struct Upload {
    pub file: Option<(Option<String>, Vec<u8>)>,
    pub fields: Vec<(String, String)>,
}

/// Parts a form may have: a file and a few text fields. Each part costs a header parse and an
/// allocation, so a form of thousands of empty parts is refused early.
pub const MAX_PARTS: usize = 10;

/// Bytes of one text field, and of all of them together.
pub const MAX_FIELD_BYTES: usize = 4096;
pub const MAX_FIELDS_BYTES: usize = 16 * 1024;

/// Reads a multipart/form-data body: one `file` part (at most `max` bytes, else 413; a second
/// one is 422 `duplicate_part`) and small text fields (4 KiB each, 16 KiB in all), at most
/// [`MAX_PARTS`] parts (else 413). 415 for any other content type.
pub async fn read_multipart(
    req: &HttpRequest,
    payload: Multipart,
    max: usize,
) -> AppResult<Upload> {
    let form = read_multipart_files(req, payload, "file", 1, max, max).await?;
    Ok(Upload {
        file: form.files.into_iter().next(),
        fields: form.fields,
    })
}

/// A form with several files under one name.
pub struct Files {
    /// (file name as sent, bytes), in the order sent; empty parts included.
    pub files: Vec<(Option<String>, Vec<u8>)>,
    pub fields: Vec<(String, String)>,
}

/// Reads a multipart/form-data body with up to `max_files` parts named `file_part` (each at
/// most `max_each` bytes and all together `max_total`, else 413; one more is 422
/// `duplicate_part` when one is allowed, `too_many_files` otherwise) and small text fields (4
/// KiB each, 16 KiB in all), at most [`MAX_PARTS`] parts with one file, one more per further
/// file allowed (else 413). 415 for any other content type.
pub async fn read_multipart_files(
    req: &HttpRequest,
    payload: Multipart,
    file_part: &str,
    max_files: usize,
    max_each: usize,
    max_total: usize,
) -> AppResult<Files> {
    let mut form = Files {
        files: Vec::new(),
        fields: Vec::new(),
    };
    read_multipart_into(
        req,
        payload,
        file_part,
        (max_files, max_each, max_total),
        &mut form,
    )
    .await?;
    Ok(form)
}

/// [`read_multipart_files`] into `form`, which keeps what was read before a failure (a form
/// page shows the text typed before a file that was too large).
pub async fn read_multipart_into(
    req: &HttpRequest,
    mut payload: Multipart,
    file_part: &str,
    (max_files, max_each, max_total): (usize, usize, usize),
    form: &mut Files,
) -> AppResult<()> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(AppError::UnsupportedMediaType {
            detail: format!("send the file as multipart/form-data with a part named `{file_part}`"),
        });
    }
    let (mut parts, mut field_bytes, mut file_bytes) = (0usize, 0usize, 0usize);
    while let Some(part) = payload.next().await {
        let mut part = part.map_err(|e| AppError::BadRequest {
            code: "invalid_multipart",
            detail: format!("the multipart body is malformed: {e}"),
        })?;
        let name = part.name().unwrap_or_default().to_owned();
        let is_file = name == file_part;
        // Every part counts: MAX_PARTS for a form with one file, one more per extra file.
        parts += 1;
        let max_parts = MAX_PARTS + max_files.saturating_sub(1);
        if parts > max_parts {
            return Err(AppError::PayloadTooLarge {
                detail: format!("the form has more than {max_parts} parts"),
            });
        }
        if is_file && form.files.len() == max_files {
            return Err(AppError::validation(if max_files == 1 {
                FieldError::new(
                    file_part,
                    "duplicate_part",
                    format!("send one part named `{file_part}`"),
                )
            } else {
                FieldError::new(
                    file_part,
                    "too_many_files",
                    format!("send at most {max_files} parts named `{file_part}`"),
                )
            }));
        }
        let filename = part
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_owned);
        let limit = if is_file {
            max_each.min(max_total - file_bytes)
        } else {
            MAX_FIELD_BYTES.min(MAX_FIELDS_BYTES - field_bytes)
        };
        let mut buf = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest {
                code: "invalid_multipart",
                detail: format!("the multipart body is malformed: {e}"),
            })?;
            if buf.len() + chunk.len() > limit {
                let detail = if !is_file && limit < MAX_FIELD_BYTES {
                    format!("the text fields are larger than {MAX_FIELDS_BYTES} bytes in all")
                } else if is_file && limit < max_each {
                    format!("the files are larger than {max_total} bytes in all")
                } else {
                    format!("the part `{name}` is larger than {limit} bytes")
                };
                return Err(AppError::PayloadTooLarge { detail });
            }
            buf.extend_from_slice(&chunk);
        }
        if is_file {
            file_bytes += buf.len();
            form.files.push((filename, buf));
        } else {
            field_bytes += buf.len();
            form.fields
                .push((name, String::from_utf8_lossy(&buf).into_owned()));
        }
    }
    Ok(())
}

/// The multipart form of a photo upload (schema only).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PhotoUpload {
    /// JPEG, PNG or WebP (recognised by content), at most 20 MiB and 8000×8000 pixels.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `storefront` when omitted.
    #[schema(inline, value_type = Option<PhotoKind>)]
    kind: Option<String>,
}

/// Upload a storefront or interior photo: multipart `file` (JPEG, PNG or WebP — recognised by
/// content, not by name; at most 8000×8000) and `kind` (`storefront` default, `interior`). A
/// shop keeps at most 20 photos (409 `too_many_photos`: remove one first).
#[utoipa::path(operation_id = "upload_merchant_photo", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body(content = inline(PhotoUpload), content_type = "multipart/form-data"),
    responses(
    (status = 201, body = PhotoView),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "the shop has 20 photos already (`too_many_photos`)", body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/photos")]
pub async fn upload_photo(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    // The body is read only once the service has decided the caller may add a photo here.
    let upload = async {
        let upload = read_multipart(&req, payload, MAX_UPLOAD).await?;
        Ok(svc::PhotoInput {
            kind: upload
                .fields
                .into_iter()
                .find(|(n, _)| n == "kind")
                .map(|(_, v)| v),
            file: upload.file.map(|(_, bytes)| bytes),
        })
    };
    let view = svc::upload(&state, &user, actor, path.into_inner(), upload).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.url.clone()))
        .json(view))
}

/// A photo's bytes (public: photos are shown on the scan page). Immutable: a new upload is a
/// new id, so clients and proxies may cache forever.
/// Removes a photo (the merchant itself, or its regulators): its bytes are deleted, the
/// audit log keeps what it was. The shop's pages are refreshed.
#[utoipa::path(operation_id = "delete_photo", tag = "merchants", security(("bearer" = [])),
    params(("id" = i64, Path), ("photo_id" = String, Path, description = "the photo's id as in its URL")),
    responses(
    (status = 204, description = "removed"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/merchants/{id}/photos/{photo_id}")]
pub async fn delete_photo(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<(i64, String)>,
) -> AppResult<HttpResponse> {
    let (id, photo_id) = path.into_inner();
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    svc::delete(&state, &user, actor, id, &photo_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(operation_id = "get_photo", tag = "public", params(("id" = String, Path, description = "the photo's unguessable id")), responses(
    (status = 200, content_type = "image/jpeg"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/media/photos/{id}.jpg")]
pub async fn photo_display(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    serve(&state, path.into_inner(), false).await
}

#[utoipa::path(operation_id = "get_photo_thumb", tag = "public", params(("id" = String, Path, description = "the photo's unguessable id")), responses(
    (status = 200, content_type = "image/jpeg"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/media/photos/{id}/thumb.jpg")]
pub async fn photo_thumb(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    serve(&state, path.into_inner(), true).await
}

async fn serve(state: &AppState, id: String, small: bool) -> AppResult<HttpResponse> {
    let bytes = svc::public_bytes(state, &id, small).await?;
    // The bytes never change, but a photo can be removed or an interior photo stop being
    // public (its shop's code revoked): caches keep it an hour at most.
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}
