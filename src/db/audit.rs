//! The audit log: every change, with who, when, from where, and the record before and after.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::schema::audit_log;

/// Who made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    /// The username, or `cli` / `system` for changes made outside the API.
    pub label: String,
    pub client_ip: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Self {
            user_id: None,
            label: "cli".to_owned(),
            client_ip: None,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
struct NewAuditEntry<'a> {
    actor_id: Option<i64>,
    actor_label: &'a str,
    action: &'a str,
    entity: &'a str,
    entity_id: &'a str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    client_ip: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub client_ip: Option<String>,
}

/// Records one change. Call in the same transaction as the change itself, so that a change is
/// never without its entry nor an entry without its change.
pub async fn record<B: Serialize, A: Serialize, C>(
    conn: &mut C,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> QueryResult<()>
where
    C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send,
{
    let to_json = |v: Option<serde_json::Result<serde_json::Value>>| {
        v.transpose()
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
    };
    let entry = NewAuditEntry {
        actor_id: actor.user_id,
        actor_label: &actor.label,
        action,
        entity,
        entity_id,
        before: to_json(before.map(serde_json::to_value))?,
        after: to_json(after.map(serde_json::to_value))?,
        client_ip: actor.client_ip.as_deref(),
    };
    diesel::insert_into(audit_log::table)
        .values(&entry)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn for_entity(
    conn: &mut AsyncPgConnection,
    entity: &str,
    entity_id: &str,
) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .filter(audit_log::entity.eq(entity))
        .filter(audit_log::entity_id.eq(entity_id))
        .order(audit_log::id)
        .select(AuditEntry::as_select())
        .load(conn)
        .await
}
