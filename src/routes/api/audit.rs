//! The audit log.

use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::CurrentUser;
use crate::error::{AppResult, Problem};
use crate::extract::Query;
use crate::service::audit as svc;
use crate::service::paging::{Page, PageQuery};
use crate::state::AppState;

pub use crate::service::audit::{AuditView, FieldChange};

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditParams {
    /// `merchant`, `complaint`, `user`, `warning`, `photo`, `region`, `import`, …
    pub entity: Option<String>,
    /// The entity's id, e.g. a merchant's number.
    pub entity_id: Option<String>,
    /// The username who acted.
    pub actor: Option<String>,
    /// First day (China time), inclusive, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (China time), inclusive, `YYYY-MM-DD`.
    pub to: Option<String>,
}

/// The audit log of the caller's jurisdiction (admins: all), newest first: who changed what,
/// when, and the fields that changed (before → after).
#[utoipa::path(operation_id = "list_audit_log", tag = "audit", security(("bearer" = [])), params(AuditParams, PageQuery), responses(
    (status = 200, body = Page<AuditView>),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/audit")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query<AuditParams>,
    paging: Query<PageQuery>,
) -> AppResult<web::Json<Page<AuditView>>> {
    let q = query.into_inner();
    let input = svc::AuditQuery {
        entity: q.entity,
        entity_id: q.entity_id,
        actor: q.actor,
        from: q.from,
        to: q.to,
    };
    Ok(web::Json(svc::list(&state, &user, &input, &paging).await?))
}
