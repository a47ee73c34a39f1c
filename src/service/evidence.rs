//! Evidence a merchant attaches to an objection or a credit-repair application: photos of a
//! receipt or a letter (re-encoded as JPEG without metadata, so no location leaves the phone)
//! or PDF documents. At most [`MAX_FILES`] per application, each at most [`MAX_FILE_BYTES`] as
//! uploaded. Read by the merchant and its regulators only; never public.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::evidence::{EvidenceMeta, NewEvidence, Parent};
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::photos::{self, PhotoError};
use crate::state::AppState;

/// Files one objection or repair application may carry.
pub const MAX_FILES: usize = 5;
/// Bytes of one file as uploaded (10 MiB: a phone photo or a scanned letter).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Bytes of all the files of one request: the API's upload limit (20 MiB).
pub const MAX_REQUEST_BYTES: usize = 20 * 1024 * 1024;

/// A file as it arrived: the name the client gave it and its bytes.
#[derive(Debug, Clone)]
pub struct EvidenceUpload {
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
}

/// An attached file as the merchant and its regulators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvidenceView {
    pub id: i64,
    pub file_name: String,
    /// `image/jpeg` (images are re-encoded) or `application/pdf`.
    pub content_type: String,
    pub size_bytes: i32,
    pub uploaded_at: DateTime<Utc>,
    /// Where to read it (the merchant and its regulators, signed in).
    pub url: String,
}

impl From<EvidenceMeta> for EvidenceView {
    fn from(m: EvidenceMeta) -> Self {
        Self {
            url: format!("/api/v1/evidence/{}", m.id),
            id: m.id,
            file_name: m.file_name,
            content_type: m.content_type,
            size_bytes: m.size_bytes,
            uploaded_at: m.uploaded_at,
        }
    }
}

fn is_pdf(bytes: &[u8]) -> bool {
    // The PDF header may follow up to 1 KiB of leading junk (PDF 1.7, §7.5.2), but a file
    // saved by any real tool starts with it.
    bytes.starts_with(b"%PDF-")
}

/// The name to show: the last path segment, without control characters, at most 120
/// characters; `evidence-N` when none was given; `.jpg` for a re-encoded image.
fn display_name(given: Option<&str>, n: usize, pdf: bool) -> String {
    let base = given
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect::<String>();
    let base = base.trim();
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.trim().is_empty() => stem.trim(),
        _ if !base.is_empty() => base,
        _ => "",
    };
    let stem = if stem.is_empty() {
        format!("evidence-{n}")
    } else {
        stem.to_owned()
    };
    format!("{stem}.{}", if pdf { "pdf" } else { "jpg" })
}

/// Checks and converts the uploaded files (422 on the field `evidence`: `too_many_files`,
/// `too_large`, `unsupported_type`, `invalid_image`). Empty parts (a form sent without a file)
/// are skipped. Images are decoded off the async workers, two at a time.
pub async fn prepare(files: Vec<EvidenceUpload>, already: usize) -> AppResult<Vec<NewEvidence>> {
    let files: Vec<EvidenceUpload> = files.into_iter().filter(|f| !f.bytes.is_empty()).collect();
    if files.len() + already > MAX_FILES {
        return Err(AppError::validation(FieldError::new(
            "evidence",
            "too_many_files",
            format!("attach at most {MAX_FILES} files in all"),
        )));
    }
    let mut out = Vec::with_capacity(files.len());
    for (i, f) in files.into_iter().enumerate() {
        if f.bytes.len() > MAX_FILE_BYTES {
            return Err(AppError::validation(FieldError::new(
                "evidence",
                "too_large",
                format!(
                    "each file may be at most {} MiB",
                    MAX_FILE_BYTES / 1024 / 1024
                ),
            )));
        }
        let n = already + i + 1;
        if is_pdf(&f.bytes) {
            out.push(NewEvidence {
                file_name: display_name(f.file_name.as_deref(), n, true),
                content_type: "application/pdf",
                body: f.bytes,
            });
            continue;
        }
        let _slot = super::photos::DECODE_SLOTS
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("photo semaphore closed: {e}"))?;
        let bytes = f.bytes;
        let jpeg = tokio::task::spawn_blocking(move || photos::evidence_jpeg(&bytes))
            .await
            .map_err(|e| anyhow::anyhow!("evidence worker failed: {e}"))?
            .map_err(|e| {
                let (code, message) = match e {
                    PhotoError::UnsupportedFormat => (
                        "unsupported_type",
                        "evidence must be a photo (JPEG, PNG, WebP) or a PDF".to_owned(),
                    ),
                    other => ("invalid_image", other.to_string()),
                };
                AppError::validation(FieldError::new("evidence", code, message))
            })?;
        out.push(NewEvidence {
            file_name: display_name(f.file_name.as_deref(), n, false),
            content_type: "image/jpeg",
            body: jpeg,
        });
    }
    Ok(out)
}

/// An objection or a repair application as shown, with room for its files.
pub trait HasEvidence {
    /// Whether it is an objection (else a repair application).
    const OBJECTION: bool;
    fn id(&self) -> i64;
    fn set_evidence(&mut self, files: Vec<EvidenceView>);
}

/// Fills in each view's files (one query).
pub async fn fill<V: HasEvidence>(
    conn: &mut AsyncPgConnection,
    mut views: Vec<V>,
) -> AppResult<Vec<V>> {
    let ids: Vec<i64> = views.iter().map(HasEvidence::id).collect();
    let (objections, repairs): (&[i64], &[i64]) = if V::OBJECTION {
        (&ids, &[])
    } else {
        (&[], &ids)
    };
    let mut by_parent: HashMap<i64, Vec<EvidenceView>> = HashMap::new();
    for m in db::evidence::of_parents(conn, objections, repairs).await? {
        if let Some(id) = m.objection_id.or(m.repair_id) {
            by_parent.entry(id).or_default().push(m.into());
        }
    }
    for v in &mut views {
        let files = by_parent.remove(&v.id()).unwrap_or_default();
        v.set_evidence(files);
    }
    Ok(views)
}

/// Adds files to an open objection or repair application of the merchant's own (the merchant
/// itself only: regulators 403, others 404; 409 `decided` once it is decided; 422 as
/// [`prepare`]). The decision comes before the body is read.
pub async fn attach(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    parent: Parent,
    upload: impl std::future::Future<Output = AppResult<Vec<EvidenceUpload>>>,
) -> AppResult<Vec<EvidenceView>> {
    let mut conn = state.pool.get().await?;
    let (merchant_id, open) = match parent {
        Parent::Objection(id) => db::objections::find(&mut conn, id)
            .await?
            .map(|o| (o.merchant_id, o.status == "open")),
        Parent::Repair(id) => db::repairs::find(&mut conn, id)
            .await?
            .map(|r| (r.merchant_id, r.status == "open")),
    }
    .ok_or(AppError::NotFound)?;
    let region = super::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::reply_to_record(user, merchant_id, &region).check()?;
    if !open {
        return Err(AppError::Conflict {
            code: "decided",
            detail: "evidence can be added only while the application is open".into(),
        });
    }
    let already = usize::try_from(db::evidence::count(&mut conn, parent).await?).unwrap_or(0);
    drop(conn);
    let files = prepare(upload.await?, already).await?;
    if files.is_empty() {
        return Err(AppError::validation(FieldError::new(
            "file",
            "required",
            "attach at least one file as the part `file`",
        )));
    }
    let mut conn = state.pool.get().await?;
    let metas = conn
        .transaction::<_, AppError, _>(async |conn| {
            // The application is locked and checked again here: it may have been decided
            // while the files were uploading, and two uploads at once are counted in turn.
            if !db::evidence::lock_open_parent(conn, parent).await? {
                return Err(AppError::Conflict {
                    code: "decided",
                    detail: "evidence can be added only while the application is open".into(),
                });
            }
            let now = db::evidence::count(conn, parent).await?;
            if usize::try_from(now).unwrap_or(0) + files.len() > MAX_FILES {
                return Err(AppError::validation(FieldError::new(
                    "evidence",
                    "too_many_files",
                    format!("attach at most {MAX_FILES} files in all"),
                )));
            }
            Ok(db::evidence::store(conn, &actor, merchant_id, parent, &files).await?)
        })
        .await?;
    Ok(metas.into_iter().map(EvidenceView::from).collect())
}

/// One file's bytes for the merchant itself and its regulators (404 for anyone else).
pub async fn download(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(EvidenceMeta, Vec<u8>)> {
    let mut conn = state.pool.get().await?;
    // The rights first, then the bytes.
    let meta = db::evidence::meta(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = super::merchants::region_of_merchant(&mut conn, meta.merchant_id).await?;
    policy::view_merchant(user, meta.merchant_id, &region).check()?;
    let body = db::evidence::body(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((meta, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_typed() {
        assert_eq!(display_name(Some("C:\\x\\收据.PNG"), 1, false), "收据.jpg");
        assert_eq!(
            display_name(Some("../../etc/passwd"), 2, true),
            "passwd.pdf"
        );
        assert_eq!(display_name(None, 3, false), "evidence-3.jpg");
        assert_eq!(display_name(Some("  "), 4, true), "evidence-4.pdf");
        assert_eq!(display_name(Some("a\u{7}b.pdf"), 1, true), "ab.pdf");
    }

    #[tokio::test]
    async fn text_is_refused_and_too_many_files_are_refused() {
        let text = EvidenceUpload {
            file_name: Some("x.pdf".into()),
            bytes: b"not a pdf".to_vec(),
        };
        let e = prepare(vec![text], 0).await.unwrap_err();
        assert!(matches!(e, AppError::Validation(ref v) if v[0].code == "unsupported_type"));
        let pdf = EvidenceUpload {
            file_name: None,
            bytes: b"%PDF-1.4\n%%EOF".to_vec(),
        };
        let e = prepare(vec![pdf.clone(), pdf.clone()], 4)
            .await
            .unwrap_err();
        assert!(matches!(e, AppError::Validation(ref v) if v[0].code == "too_many_files"));
        let ok = prepare(vec![pdf], 4).await.unwrap();
        assert_eq!(ok[0].content_type, "application/pdf");
        assert_eq!(ok[0].file_name, "evidence-5.pdf");
    }
}
