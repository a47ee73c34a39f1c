//! The merchant import (CSV or XLSX, upsert by USCC) as a use case: the CLI's `import` shares the
//! code path in `crate::import`; this is the one the API (and the console) call.

use std::future::Future;

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db::audit::Actor;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::import::{self, ImportError, Options, Report, Scope, TableError};
use crate::state::AppState;

/// The uploaded file: its name (for the format, when the bytes do not tell) and its bytes
/// (`None`: no file was attached).
#[derive(Debug, Default)]
pub struct ImportFile {
    pub name: Option<String>,
    pub bytes: Option<Vec<u8>>,
}

/// An import failure as the answer the caller gets.
pub fn into_app_error(e: ImportError) -> AppError {
    match e {
        ImportError::Table(TableError::UnsupportedFormat) => AppError::UnsupportedMediaType {
            detail: TableError::UnsupportedFormat.to_string(),
        },
        ImportError::Table(t) => {
            AppError::validation(FieldError::new("file", t.code(), t.to_string()))
        }
        ImportError::Columns(errors) => AppError::Validation(errors),
        ImportError::Db(e) => e.into(),
        ImportError::Worker(e) => AppError::Internal(anyhow::anyhow!("import worker: {e}")),
    }
}

/// Imports merchants in the caller's jurisdiction (administrators: everywhere). The decision
/// comes first: `upload` (reading the request body) is awaited only for a caller who may import,
/// so a merchant gets 403 whatever it sent. All-or-nothing unless `options.partial`; a dry run
/// writes nothing. The imported merchants' pages are invalidated after commit.
pub async fn import(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    upload: impl Future<Output = AppResult<ImportFile>>,
    options: Options,
) -> AppResult<Report> {
    policy::import_merchants(user).check()?;
    let scope = if policy::sees_every_region(user) {
        Scope::All
    } else {
        Scope::Regions(user.jurisdiction.clone())
    };
    let file = upload.await?;
    let Some(bytes) = file.bytes else {
        return Err(AppError::validation(FieldError::new(
            "file",
            "required",
            "attach the file as the part `file`",
        )));
    };
    let mut conn = state.pool.get().await?;
    let report = import::run(
        &mut conn,
        &actor,
        &scope,
        &bytes,
        file.name.as_deref(),
        options,
        crate::service::today(),
    )
    .await
    .map_err(into_app_error)?;
    state
        .pages
        .invalidate_merchants(&mut conn, &report.updated_ids)
        .await;
    tracing::info!(
        by = user.id,
        rows = report.rows,
        created = report.created,
        updated = report.updated,
        rejected = report.rejected.len(),
        committed = report.committed,
        "import"
    );
    Ok(report)
}
