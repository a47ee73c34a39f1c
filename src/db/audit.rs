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

/// Filters of the audit log.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// A regulator's view: entries about merchants, their photos and complaints, warnings and
    /// regions in these regions, the merchant logins of those merchants, and the caller's own
    /// imports. None: everything (admins).
    pub regions: Option<Vec<String>>,
    /// The caller (whose own imports and account changes a regulator sees).
    pub caller: Option<i64>,
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    /// The actor's username (exactly).
    pub actor: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Exclusive.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// One page of the log, newest first, and the total matching.
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &AuditFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<AuditEntry>, i64)> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Array, BigInt, Bool, Text};
    let filtered = || {
        let mut q = audit_log::table.into_boxed::<diesel::pg::Pg>();
        if let Some(r) = &f.regions {
            let caller = f.caller.unwrap_or(0);
            q = q.filter(
                sql::<Bool>(
                    "((audit_log.entity = 'merchant' AND EXISTS (SELECT 1 FROM merchants m \
                     WHERE m.id::text = audit_log.entity_id AND m.region_code = ANY(",
                )
                .bind::<Array<Text>, _>(r.clone())
                .sql(
                    "))) OR (audit_log.entity = 'photo' AND EXISTS (SELECT 1 FROM merchants m \
                     WHERE m.id::text = COALESCE(audit_log.after->>'merchant_id', \
                     audit_log.before->>'merchant_id') AND m.region_code = ANY(",
                )
                .bind::<Array<Text>, _>(r.clone())
                .sql(
                    "))) OR (audit_log.entity = 'complaint' AND EXISTS (SELECT 1 FROM complaints c \
                     WHERE c.id::text = audit_log.entity_id AND c.region_code = ANY(",
                )
                .bind::<Array<Text>, _>(r.clone())
                .sql(
                    "))) OR (audit_log.entity = 'warning' AND EXISTS (SELECT 1 FROM warnings w \
                     WHERE w.id::text = audit_log.entity_id AND w.region_code = ANY(",
                )
                .bind::<Array<Text>, _>(r.clone())
                .sql("))) OR (audit_log.entity = 'region' AND audit_log.entity_id = ANY(")
                .bind::<Array<Text>, _>(r.clone())
                .sql(
                    ")) OR (audit_log.entity = 'user' AND (audit_log.entity_id = ",
                )
                .bind::<BigInt, _>(caller)
                .sql(
                    "::text OR EXISTS (SELECT 1 FROM users u JOIN merchants m ON m.id = u.merchant_id \
                     WHERE u.id::text = audit_log.entity_id AND m.region_code = ANY(",
                )
                .bind::<Array<Text>, _>(r.clone())
                .sql(")))) OR (audit_log.entity = 'import' AND audit_log.actor_id = ")
                .bind::<BigInt, _>(caller)
                .sql("))"),
            );
        }
        if let Some(e) = &f.entity {
            q = q.filter(audit_log::entity.eq(e.clone()));
        }
        if let Some(e) = &f.entity_id {
            q = q.filter(audit_log::entity_id.eq(e.clone()));
        }
        if let Some(a) = &f.actor {
            q = q.filter(audit_log::actor_label.eq(a.clone()));
        }
        if let Some(t) = f.from {
            q = q.filter(audit_log::at.ge(t));
        }
        if let Some(t) = f.until {
            q = q.filter(audit_log::at.lt(t));
        }
        q
    };
    let total = filtered().count().get_result(conn).await?;
    let rows = filtered()
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .select(AuditEntry::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}
