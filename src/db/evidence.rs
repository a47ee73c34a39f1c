//! Evidence files attached to objections and credit-repair applications. Never public: read
//! by the merchant and its regulators only.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::audit::{self, Actor};
use super::schema::evidence_files;

/// What an evidence file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    Objection(i64),
    Repair(i64),
}

/// A file ready to store: its name as shown, its type, its (re-encoded) bytes.
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub file_name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// An evidence file without its bytes.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = evidence_files, check_for_backend(diesel::pg::Pg))]
pub struct EvidenceMeta {
    pub id: i64,
    pub merchant_id: i64,
    pub objection_id: Option<i64>,
    pub repair_id: Option<i64>,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i32,
    pub uploaded_at: DateTime<Utc>,
}

/// Stores `files` under `parent` (inside the caller's transaction).
pub async fn insert_all(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    parent: Parent,
    files: &[NewEvidence],
    uploaded_by: Option<i64>,
) -> QueryResult<Vec<EvidenceMeta>> {
    let (objection_id, repair_id) = match parent {
        Parent::Objection(id) => (Some(id), None),
        Parent::Repair(id) => (None, Some(id)),
    };
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let size = i32::try_from(f.body.len()).unwrap_or(i32::MAX);
        out.push(
            diesel::insert_into(evidence_files::table)
                .values((
                    evidence_files::merchant_id.eq(merchant_id),
                    evidence_files::objection_id.eq(objection_id),
                    evidence_files::repair_id.eq(repair_id),
                    evidence_files::file_name.eq(&f.file_name),
                    evidence_files::content_type.eq(f.content_type),
                    evidence_files::size_bytes.eq(size),
                    evidence_files::body.eq(&f.body),
                    evidence_files::uploaded_by.eq(uploaded_by),
                ))
                .returning(EvidenceMeta::as_returning())
                .get_result(conn)
                .await?,
        );
    }
    Ok(out)
}

/// How many files `parent` has.
pub async fn count(conn: &mut AsyncPgConnection, parent: Parent) -> QueryResult<i64> {
    let q = evidence_files::table.into_boxed();
    let q = match parent {
        Parent::Objection(id) => q.filter(evidence_files::objection_id.eq(id)),
        Parent::Repair(id) => q.filter(evidence_files::repair_id.eq(id)),
    };
    q.count().get_result(conn).await
}

/// The files of these objections and these repair applications, oldest first.
pub async fn of_parents(
    conn: &mut AsyncPgConnection,
    objection_ids: &[i64],
    repair_ids: &[i64],
) -> QueryResult<Vec<EvidenceMeta>> {
    if objection_ids.is_empty() && repair_ids.is_empty() {
        return Ok(Vec::new());
    }
    evidence_files::table
        .filter(
            evidence_files::objection_id
                .eq_any(objection_ids)
                .or(evidence_files::repair_id.eq_any(repair_ids)),
        )
        .order(evidence_files::id.asc())
        .select(EvidenceMeta::as_select())
        .load(conn)
        .await
}

/// One file's description.
pub async fn meta(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<EvidenceMeta>> {
    evidence_files::table
        .find(id)
        .select(EvidenceMeta::as_select())
        .first(conn)
        .await
        .optional()
}

/// One file's bytes.
pub async fn body(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Vec<u8>>> {
    evidence_files::table
        .find(id)
        .select(evidence_files::body)
        .first(conn)
        .await
        .optional()
}

/// Locks the objection or application (`FOR UPDATE`, inside the caller's transaction) and
/// tells whether it is still open.
pub async fn lock_open_parent(conn: &mut AsyncPgConnection, parent: Parent) -> QueryResult<bool> {
    use super::schema::{credit_repairs, objections};
    let status: Option<String> = match parent {
        Parent::Objection(id) => objections::table
            .find(id)
            .select(objections::status)
            .for_update()
            .first(conn)
            .await
            .optional()?,
        Parent::Repair(id) => credit_repairs::table
            .find(id)
            .select(credit_repairs::status)
            .for_update()
            .first(conn)
            .await
            .optional()?,
    };
    Ok(status.as_deref() == Some("open"))
}

/// Stores `files` under `parent` with their audit entry (names, types and sizes; not the
/// bytes), inside the caller's transaction.
pub async fn store(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    merchant_id: i64,
    parent: Parent,
    files: &[NewEvidence],
) -> QueryResult<Vec<EvidenceMeta>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let metas = insert_all(conn, merchant_id, parent, files, actor.user_id).await?;
    audit::record(
        conn,
        actor,
        "evidence.attach",
        "merchant",
        &merchant_id.to_string(),
        None::<&()>,
        Some(&metas),
    )
    .await?;
    Ok(metas)
}
