//! `POST /api/v1/imports`: the data-exchange import over HTTP (the CLI's `import` shares the code
//! path in `crate::import`).

use actix_multipart::Multipart;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::photos::{read_multipart, MAX_UPLOAD};
use crate::auth::CurrentUser;
use crate::domain::FieldError;
use crate::error::{AppResult, Problem};
use crate::extract::Query;
use crate::import::{Options, Report};
use crate::routes::actor;
use crate::service::imports as svc;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Check and report only; nothing is written.
    pub dry_run: Option<bool>,
    /// Commit the valid rows even when some rows are rejected.
    pub partial: Option<bool>,
}

/// The multipart form of an import (schema only).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ImportUpload {
    /// CSV (UTF-8, UTF-16 or GBK) or XLSX; at most 20 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The answer when rejected rows stopped an all-or-nothing import: problem+json, with every
/// row error in `errors` (field `rows[N].field`, N the Excel row) and the whole report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRejected {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    pub errors: Vec<FieldError>,
    /// With `code` `import_rejected` (a 422 for a bad query parameter has none).
    #[schema(required = false)]
    pub report: Report,
}

/// Import merchants from CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX, headers in Chinese or
/// English; upsert by USCC. All-or-nothing unless `partial=true`; `dry_run=true` writes
/// nothing. 200 with the report when committed or dry run; 422 with the report when rejected
/// rows stopped it.
#[utoipa::path(operation_id = "import_merchants", tag = "merchants", security(("bearer" = [])), params(ImportQuery),
    request_body(content = inline(ImportUpload), content_type = "multipart/form-data"),
    responses(
    (status = 200, body = Report),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = ImportRejected, content_type = "application/problem+json"),
))]
#[post("/imports")]
pub async fn create_import(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    query: Query<ImportQuery>,
    payload: Multipart,
) -> AppResult<HttpResponse> {
    let options = Options {
        dry_run: query.dry_run.unwrap_or(false),
        partial: query.partial.unwrap_or(false),
    };
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    // The body is read only once the service has decided the caller may import.
    let upload = async {
        let form = read_multipart(&req, payload, MAX_UPLOAD).await?;
        Ok(svc::ImportFile {
            name: form.file.as_ref().and_then(|(n, _)| n.clone()),
            bytes: form.file.map(|(_, b)| b),
        })
    };
    let report = svc::import(&state, &user, actor, upload, options).await?;
    if report.committed || options.dry_run || report.rejected.is_empty() {
        return Ok(HttpResponse::Ok().json(report));
    }
    let errors = report
        .rejected
        .iter()
        .flat_map(|r| {
            r.errors.iter().map(move |e| FieldError {
                field: format!("rows[{}].{}", r.row, e.field),
                code: e.code,
                message: e.message.clone(),
            })
        })
        .collect();
    let body = ImportRejected {
        type_: "/problems/import_rejected",
        title: "Unprocessable Entity",
        status: 422,
        detail: format!(
            "{} of {} rows were rejected; nothing was imported (fix them, or import with partial=true)",
            report.rejected.len(),
            report.rows
        ),
        code: "import_rejected",
        errors,
        report,
    };
    Ok(HttpResponse::UnprocessableEntity()
        .content_type("application/problem+json")
        .json(body))
}
