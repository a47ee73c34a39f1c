//! Objections (异议) to a merchant's records.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::db::evidence::Parent;
use crate::error::{AppResult, Problem};
use crate::extract::Json;
use crate::routes::actor;
use crate::service::evidence::{self as evidence_svc, EvidenceUpload, EvidenceView};
use crate::service::objections as svc;
use crate::service::objections::RecordCorrection;
use crate::state::AppState;

pub use crate::service::objections::{ObjectionView, QueuedObjection};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRequest {
    /// `inspection` or `credit_record`.
    pub record_kind: String,
    pub record_id: i64,
    /// Why the record is wrong (1–2000 characters).
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `uphold` (the record stands), `correct` (the record is rewritten with `correction`) or
    /// `remove` (out of publicity from today).
    pub decision: String,
    /// The reason, shown to the merchant.
    pub note: String,
    /// With `correct` only: the fields to change, the others kept.
    pub correction: Option<RecordCorrection>,
}

/// Object to one of the shop's records (the merchant itself only). The regulator decides
/// within the review deadline (15 working days unless an admin changed it); meanwhile the
/// public page marks the record. Attach evidence with `POST /objections/{id}/evidence`.
#[utoipa::path(operation_id = "file_objection", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = ObjectionRequest, responses(
    (status = 201, body = ObjectionView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/objections")]
pub async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<ObjectionRequest>,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let b = body.into_inner();
    let v = svc::file(
        &state,
        &user,
        actor,
        path.into_inner(),
        svc::ObjectionInput {
            record_kind: &b.record_kind,
            record_id: b.record_id,
            reason: &b.reason,
            evidence: Vec::new(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(v))
}

/// The shop's objections and their decisions (the merchant and its regulators).
#[utoipa::path(operation_id = "list_merchant_objections", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<ObjectionView>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/objections")]
pub async fn of_merchant(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<web::Json<Vec<ObjectionView>>> {
    Ok(web::Json(
        svc::of_merchant(&state, &user, path.into_inner()).await?,
    ))
}

/// Open objections in the caller's jurisdiction, deadline first (at most 500).
#[utoipa::path(operation_id = "list_objections", tag = "merchants", security(("bearer" = [])), responses(
    (status = 200, body = Vec<QueuedObjection>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/objections")]
pub async fn queue(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<web::Json<Vec<QueuedObjection>>> {
    Ok(web::Json(svc::queue(&state, &user).await?))
}

/// Decide an objection: uphold the record, correct it (`correction`: the fields to change,
/// validated as a new record's), or remove it from publicity; the grade is recomputed.
/// Audited (a correction also as the record's own change, before and after); the shop's pages
/// are refreshed.
#[utoipa::path(operation_id = "decide_objection", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = DecisionRequest, responses(
    (status = 200, body = ObjectionView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/objections/{id}/decision")]
pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<DecisionRequest>,
) -> AppResult<web::Json<ObjectionView>> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    Ok(web::Json(
        svc::decide(
            &state,
            &user,
            actor,
            path.into_inner(),
            &body.decision,
            &body.note,
            body.correction.as_ref(),
        )
        .await?,
    ))
}

/// The multipart form of an evidence upload (schema only).
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct EvidenceForm {
    /// One to five files: photos (JPEG, PNG, WebP; re-encoded as JPEG without metadata) or
    /// PDF, recognised by content; each at most 10 MiB, 20 MiB in all.
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

/// Reads the `file` parts of an evidence upload.
pub(crate) async fn read_evidence(
    req: &HttpRequest,
    payload: Multipart,
) -> crate::error::AppResult<Vec<EvidenceUpload>> {
    let form = crate::routes::api::photos::read_multipart_files(
        req,
        payload,
        "file",
        evidence_svc::MAX_FILES,
        evidence_svc::MAX_FILE_BYTES,
        evidence_svc::MAX_REQUEST_BYTES,
    )
    .await?;
    Ok(form
        .files
        .into_iter()
        .map(|(file_name, bytes)| EvidenceUpload { file_name, bytes })
        .collect())
}

/// Attach evidence to an open objection (the merchant itself only): multipart `file` parts,
/// at most five files per objection in all. 409 `decided` once it is decided.
#[utoipa::path(operation_id = "add_objection_evidence", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)),
    request_body(content = inline(EvidenceForm), content_type = "multipart/form-data"),
    responses(
    (status = 201, body = Vec<EvidenceView>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/objections/{id}/evidence")]
pub async fn add_evidence(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let files = read_evidence(&req, payload);
    let v = evidence_svc::attach(
        &state,
        &user,
        actor,
        Parent::Objection(path.into_inner()),
        files,
    )
    .await?;
    Ok(HttpResponse::Created().json(v))
}

/// One evidence file (the merchant itself and its regulators; 404 for anyone else). Never
/// cached by shared caches.
#[utoipa::path(operation_id = "get_evidence", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, description = "the file", content(("image/jpeg"), ("application/pdf"))),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/evidence/{id}")]
pub async fn get_evidence(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (meta, body) = evidence_svc::download(&state, &user, path.into_inner()).await?;
    // Images open in the browser, sandboxed; a PDF is downloaded (Chromium will not start
    // its PDF viewer in a sandboxed document).
    let pdf = meta.content_type == "application/pdf";
    let disposition = header::ContentDisposition {
        disposition: if pdf {
            header::DispositionType::Attachment
        } else {
            header::DispositionType::Inline
        },
        parameters: vec![header::DispositionParam::FilenameExt(
            header::ExtendedValue {
                charset: header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: meta.file_name.into_bytes(),
            },
        )],
    };
    let mut resp = HttpResponse::Ok();
    resp.content_type(meta.content_type)
        .insert_header(disposition)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    if !pdf {
        resp.insert_header(("Content-Security-Policy", "sandbox; default-src 'none'"));
    }
    Ok(resp.body(body))
}
