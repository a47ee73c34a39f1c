//! The merchant's right of reply (回应): one reply per inspection and credit record, at most 500
//! characters, editable until a regulator has seen it, shown on the public page under the
//! record with its date as the merchant's words. A regulator may mark it seen (it is then
//! final) or hide it with a reason (abuse, personal data); the merchant sees why.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::replies::ReplyRow;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Longest reply, in characters.
pub const MAX_CHARS: usize = 500;

/// What a record kind is called in paths and rows.
pub const KINDS: &[&str] = &["inspection", "credit_record", "complaint"];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplyView {
    pub id: i64,
    /// `inspection`, `credit_record` or `complaint` (a closed complaint of the shop).
    pub record_kind: String,
    pub record_id: i64,
    pub reply: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A regulator has seen it: it can no longer be edited.
    pub seen: bool,
    /// Hidden from the public by a regulator, and why.
    pub hidden: bool,
    pub hidden_reason: Option<String>,
}

impl From<ReplyRow> for ReplyView {
    fn from(r: ReplyRow) -> Self {
        Self {
            id: r.id,
            record_kind: r.record_kind,
            record_id: r.record_id,
            reply: r.body,
            created_at: r.created_at,
            updated_at: r.updated_at,
            seen: r.seen_at.is_some(),
            hidden: r.hidden_at.is_some(),
            hidden_reason: r.hidden_reason,
        }
    }
}

fn kind_word(kind: &str) -> AppResult<&'static str> {
    KINDS
        .iter()
        .find(|k| **k == kind)
        .copied()
        .ok_or(AppError::NotFound)
}

/// Every reply of a merchant (the merchant itself and its regulators).
pub async fn list(
    state: &AppState,
    user: &CurrentUser,
    merchant_id: i64,
) -> AppResult<Vec<ReplyView>> {
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::view_merchant(user, merchant_id, &region).check()?;
    Ok(db::replies::of_merchant(&mut conn, merchant_id)
        .await?
        .into_iter()
        .map(ReplyView::from)
        .collect())
}

/// Writes the merchant's reply to one of its records: only the merchant itself (its
/// regulators 403, anyone else 404), a record of its own (404), 1–500 characters (422), not
/// once a regulator has seen or hidden it (409 `reply_locked`). The shop's pages are
/// invalidated after commit.
pub async fn put(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    kind: &str,
    record_id: i64,
    reply: &str,
) -> AppResult<ReplyView> {
    let kind = kind_word(kind)?;
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::reply_to_record(user, merchant_id, &region).check()?;
    if !db::replies::record_belongs(&mut conn, kind, record_id, merchant_id).await? {
        return Err(AppError::NotFound);
    }
    let body = super::required_text("reply", reply, MAX_CHARS)?;
    let row = db::replies::put(&mut conn, &actor, merchant_id, kind, record_id, &body)
        .await?
        .ok_or_else(|| AppError::Conflict {
            code: "reply_locked",
            detail: "a regulator has seen this reply; it can no longer be changed".into(),
        })?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[merchant_id])
        .await;
    Ok(row.into())
}

/// A regulator marks a reply seen (then final), or hides it from the public with a reason.
pub async fn regulate(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    kind: &str,
    record_id: i64,
    hide_reason: Option<&str>,
) -> AppResult<ReplyView> {
    let kind = kind_word(kind)?;
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::manage_merchant(user, merchant_id, &region).check()?;
    let reply = db::replies::find(&mut conn, kind, record_id)
        .await?
        .filter(|r| r.merchant_id == merchant_id)
        .ok_or(AppError::NotFound)?;
    let reason = hide_reason
        .map(|r| super::required_text("reason", r, 500))
        .transpose()?;
    let row = db::replies::regulate(&mut conn, &actor, &reply, reason.as_deref()).await?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[merchant_id])
        .await;
    Ok(row.into())
}
