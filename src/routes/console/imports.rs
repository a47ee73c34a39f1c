//! `/console/imports`: upload → preview (the dry-run report as a table) → confirm without
//! uploading again (the previewed file is kept for the session, 30 minutes at most) → the
//! result; and the templates (CSV with the Chinese headers, XLSX).

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{
    check_csrf, html, posted, signed_in, unprocessable, Chrome, Console, ConsoleError,
    ConsoleResult, Errors, FormData,
};
use crate::auth::policy;
use crate::auth::session;
use crate::db;
use crate::error::AppError;
use crate::import::{Options, Report};
use crate::routes::api::photos::{read_multipart, MAX_UPLOAD};
use crate::service;
use crate::service::imports::ImportFile;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/imports", web::get().to(show))
        .route("/imports", web::post().to(preview))
        .route("/imports/{upload}/confirm", web::post().to(confirm))
        .route("/imports/template.csv", web::get().to(template_csv))
        .route("/imports/template.xlsx", web::get().to(template_xlsx));
}

/// How long a previewed file waits for its confirmation.
const KEEP_MINUTES: i64 = 30;

/// The template's columns: the field and its Chinese header (the first alias the importer
/// knows it by), in the order a clerk fills them in.
const COLUMNS: &[(&str, &str)] = &[
    ("uscc", "统一社会信用代码"),
    ("name", "名称"),
    ("category", "类别"),
    ("region_code", "行政区划代码"),
    ("legal_representative", "法定代表人"),
    ("address", "地址"),
    ("phone", "电话"),
    ("business_scope", "经营范围"),
    ("registered_on", "成立日期"),
    ("status", "状态"),
    ("opening_hours", "营业时间"),
    ("opening_months", "营业月份"),
    ("description", "简介"),
];

pub struct ErrorLine {
    pub row: usize,
    pub uscc: String,
    pub field: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "console/imports.html")]
pub struct ImportPage {
    pub c: Chrome,
    pub errors: Errors,
    /// A preview (dry run) or a result.
    pub report: Option<Report>,
    pub lines: Vec<ErrorLine>,
    pub warnings: Vec<ErrorLine>,
    /// The kept file awaiting confirmation.
    pub upload: Option<String>,
    pub file_name: String,
    pub partial: bool,
    pub result: Option<(usize, usize, usize, usize)>,
}

fn lines(c: &Console, rows: &[crate::import::RowReport]) -> Vec<ErrorLine> {
    rows.iter()
        .take(1000)
        .flat_map(|r| {
            r.errors.iter().map(|e| ErrorLine {
                row: r.row,
                uscc: r.uscc.clone().unwrap_or_default(),
                field: crate::i18n::lookup(c.lang, &format!("console.field.{}", e.field))
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.field.clone()),
                message: super::error_message(c.lang, e),
            })
        })
        .collect()
}

async fn importer(state: &AppState, req: &HttpRequest) -> ConsoleResult<Console> {
    let c = signed_in(state, req).await?;
    if policy::import_merchants(c.user()).check().is_err() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    Ok(c)
}

#[derive(Deserialize)]
pub struct Done {
    created: Option<usize>,
    updated: Option<usize>,
    unchanged: Option<usize>,
    rejected: Option<usize>,
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<Done>,
) -> ConsoleResult {
    let c = importer(&state, &req).await?;
    let result = match (q.created, q.updated, q.unchanged, q.rejected) {
        (Some(a), Some(b), Some(d), Some(r)) => Some((a, b, d, r)),
        _ => None,
    };
    let body = html(&ImportPage {
        c: c.chrome(&state, "imports"),
        errors: Errors::default(),
        report: None,
        lines: vec![],
        warnings: vec![],
        upload: None,
        file_name: String::new(),
        partial: false,
        result,
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body))
}

fn file_error(c: &Console, state: &AppState, e: AppError) -> ConsoleResult {
    let errors = match e {
        AppError::Validation(errors) => errors,
        AppError::UnsupportedMediaType { detail } | AppError::PayloadTooLarge { detail } => {
            vec![crate::domain::FieldError::new(
                "file",
                "unsupported",
                detail,
            )]
        }
        e => return Err(ConsoleError::from(e).in_lang(c.lang)),
    };
    let body = html(&ImportPage {
        c: c.chrome(state, "imports"),
        errors: Errors::from_fields(c.lang, &errors),
        report: None,
        lines: vec![],
        warnings: vec![],
        upload: None,
        file_name: String::new(),
        partial: false,
        result: None,
    })?;
    Ok(unprocessable(body))
}

/// The upload: read, CSRF-checked, previewed (a dry run), and kept for the confirmation.
pub async fn preview(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: Multipart,
) -> ConsoleResult {
    let c = importer(&state, &req).await?;
    let upload = match read_multipart(&req, payload, MAX_UPLOAD).await {
        Ok(u) => u,
        Err(e) => return file_error(&c, &state, e),
    };
    let form = FormData::from_pairs(upload.fields.clone());
    check_csrf(&state, &req, &c, &form)?;
    let partial = form.checked("partial");
    let (name, bytes) = match upload.file {
        Some((name, bytes)) if !bytes.is_empty() => (name.unwrap_or_default(), bytes),
        _ => {
            return file_error(
                &c,
                &state,
                AppError::validation(crate::domain::FieldError::new(
                    "file",
                    "required",
                    "choose a CSV or XLSX file",
                )),
            )
        }
    };
    let kept = bytes.clone();
    let file_name = name.clone();
    let report = match service::imports::import(
        &state,
        c.user(),
        c.actor(&state, &req),
        async move {
            Ok(ImportFile {
                name: Some(name),
                bytes: Some(bytes),
            })
        },
        Options {
            dry_run: true,
            partial,
        },
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return file_error(&c, &state, e),
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    {
        let mut conn = state.pool.get().await.map_err(AppError::from)?;
        db::sessions::put_upload(
            &mut conn,
            &id,
            &session::hash(&c.session.token),
            &file_name,
            &kept,
        )
        .await?;
    }
    let body = html(&ImportPage {
        c: c.chrome(&state, "imports"),
        errors: Errors::default(),
        lines: lines(&c, &report.rejected),
        warnings: lines(&c, &report.warnings),
        report: Some(report),
        upload: Some(id),
        file_name,
        partial,
        result: None,
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(body))
}

/// Imports the previewed file for real.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ConsoleResult {
    let (c, form) = posted(&state, &req, payload).await?;
    if policy::import_merchants(c.user()).check().is_err() {
        return Err(ConsoleError::NotFound(c.lang));
    }
    let id = path.into_inner();
    let kept = {
        let mut conn = state.pool.get().await.map_err(AppError::from)?;
        db::sessions::get_upload(
            &mut conn,
            &id,
            &session::hash(&c.session.token),
            chrono::Duration::minutes(KEEP_MINUTES),
        )
        .await?
    };
    let Some((name, bytes)) = kept else {
        // gone (confirmed already, expired, or another session's): upload again
        return file_error(
            &c,
            &state,
            AppError::validation(crate::domain::FieldError::new(
                "file",
                "expired",
                "the previewed file is no longer kept (30 minutes, once); upload it again",
            )),
        );
    };
    let partial = form.checked("partial");
    let report = match service::imports::import(
        &state,
        c.user(),
        c.actor(&state, &req),
        async move {
            Ok(ImportFile {
                name: Some(name),
                bytes: Some(bytes),
            })
        },
        Options {
            dry_run: false,
            partial,
        },
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return file_error(&c, &state, e),
    };
    if report.committed {
        let mut conn = state.pool.get().await.map_err(AppError::from)?;
        db::sessions::delete_upload(&mut conn, &id).await?;
        return Ok(super::see_other(&format!(
            "/console/imports?created={}&updated={}&unchanged={}&rejected={}",
            report.created,
            report.updated,
            report.unchanged,
            report.rejected.len()
        )));
    }
    // nothing written (rows rejected, all-or-nothing): the report again, the file still kept
    let body = html(&ImportPage {
        c: c.chrome(&state, "imports"),
        errors: Errors::default(),
        lines: lines(&c, &report.rejected),
        warnings: lines(&c, &report.warnings),
        report: Some(report),
        upload: Some(id),
        file_name: String::new(),
        partial,
        result: None,
    })?;
    Ok(unprocessable(body))
}

pub async fn template_csv(state: web::Data<AppState>, req: HttpRequest) -> ConsoleResult {
    importer(&state, &req).await?;
    // a BOM so that Excel opens the Chinese headers as UTF-8
    let mut body = String::from("\u{feff}");
    body.push_str(
        &COLUMNS
            .iter()
            .map(|(_, h)| *h)
            .collect::<Vec<_>>()
            .join(","),
    );
    body.push_str("\r\n");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"merchants-template.csv\"",
        ))
        .body(body))
}

pub async fn template_xlsx(state: web::Data<AppState>, req: HttpRequest) -> ConsoleResult {
    let c = importer(&state, &req).await?;
    let bytes = web::block(|| -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name("商户")?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let text = rust_xlsxwriter::Format::new().set_num_format("@");
        for (i, (field, h)) in COLUMNS.iter().enumerate() {
            let col = u16::try_from(i).unwrap_or(0);
            sheet.write_string_with_format(0, col, *h, &bold)?;
            // codes, phones and dates as text, so Excel keeps leading zeros and the exact form
            if matches!(*field, "uscc" | "region_code" | "phone" | "registered_on") {
                sheet.set_column_format(col, &text)?;
            }
            sheet.set_column_width(col, if *field == "name" { 28 } else { 16 })?;
        }
        book.save_to_buffer()
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("template worker: {e}")))
    .and_then(|r| r.map_err(|e| AppError::Internal(anyhow::anyhow!("template xlsx: {e}"))))
    .map_err(|e| ConsoleError::from(e).in_lang(c.lang))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"merchants-template.xlsx\"",
        ))
        .body(bytes))
}
