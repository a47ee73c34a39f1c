//! Users and their jurisdictions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::schema::{user_regions, users};

diesel::define_sql_function! {
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub merchant_id: Option<i64>,
    pub disabled: bool,
    pub password_changed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the audit log records of a user: everything but the password hash.
#[derive(Debug, Serialize)]
pub struct UserAuditView<'a> {
    pub id: i64,
    pub username: &'a str,
    pub role: &'a str,
    pub merchant_id: Option<i64>,
    pub region_codes: &'a [String],
    pub disabled: bool,
    pub password_changed_at: DateTime<Utc>,
}

impl UserRow {
    pub fn audit_view<'a>(&'a self, region_codes: &'a [String]) -> UserAuditView<'a> {
        UserAuditView {
            id: self.id,
            username: &self.username,
            role: &self.role,
            merchant_id: self.merchant_id,
            region_codes,
            disabled: self.disabled,
            password_changed_at: self.password_changed_at,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub merchant_id: Option<i64>,
}

pub async fn find_by_username(
    conn: &mut AsyncPgConnection,
    username: &str,
) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(lower(users::username).eq(username.to_lowercase()))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find<C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send>(
    conn: &mut C,
    id: i64,
) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn region_codes<C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send>(
    conn: &mut C,
    user_id: i64,
) -> QueryResult<Vec<String>> {
    user_regions::table
        .filter(user_regions::user_id.eq(user_id))
        .select(user_regions::region_code)
        .order(user_regions::region_code)
        .load(conn)
        .await
}

/// The user and its region codes, the two reads sent together (one round trip: every
/// bearer-authenticated request makes it while holding a pooled connection).
pub async fn find_with_regions(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<(UserRow, Vec<String>)>> {
    let shared: &AsyncPgConnection = conn;
    let (mut c1, mut c2) = (shared, shared);
    let (user, regions) = futures_util::try_join!(find(&mut c1, id), region_codes(&mut c2, id))?;
    Ok(user.map(|u| (u, regions)))
}

/// Inserts a user and its jurisdiction. Call inside a transaction.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: &NewUser<'_>,
    region_codes: &[String],
) -> QueryResult<UserRow> {
    let row: UserRow = diesel::insert_into(users::table)
        .values(new)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await?;
    let links: Vec<_> = region_codes
        .iter()
        .map(|c| {
            (
                user_regions::user_id.eq(row.id),
                user_regions::region_code.eq(c),
            )
        })
        .collect();
    if !links.is_empty() {
        diesel::insert_into(user_regions::table)
            .values(&links)
            .execute(conn)
            .await?;
    }
    Ok(row)
}

pub async fn set_password(
    conn: &mut AsyncPgConnection,
    id: i64,
    password_hash: &str,
) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::password_changed_at.eq(diesel::dsl::now),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn).await
}

/// Creates a user with its jurisdiction and the audit entry, in one transaction.
pub async fn create_audited(
    conn: &mut AsyncPgConnection,
    actor: &super::audit::Actor,
    new: &NewUser<'_>,
    region_codes: &[String],
) -> QueryResult<UserRow> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let row = insert(conn, new, region_codes).await?;
        super::audit::record::<(), _, _>(
            conn,
            actor,
            "user.create",
            "user",
            &row.id.to_string(),
            None,
            Some(&row.audit_view(region_codes)),
        )
        .await?;
        Ok(row)
    })
    .await
}

/// Sets a new password (which invalidates tokens issued before) and audits it, in one
/// transaction. The audit entry records that the password changed, never the hash.
pub async fn set_password_audited(
    conn: &mut AsyncPgConnection,
    actor: &super::audit::Actor,
    id: i64,
    password_hash: &str,
) -> QueryResult<UserRow> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let before = find(conn, id)
            .await?
            .ok_or(diesel::result::Error::NotFound)?;
        let codes = region_codes(conn, id).await?;
        let after = set_password(conn, id, password_hash).await?;
        super::audit::record(
            conn,
            actor,
            "user.set_password",
            "user",
            &id.to_string(),
            Some(&before.audit_view(&codes)),
            Some(&after.audit_view(&codes)),
        )
        .await?;
        Ok(after)
    })
    .await
}

/// Filters of the account list.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    /// Only merchant logins of merchants in these regions (a regulator's view); None: all.
    pub merchant_regions: Option<Vec<String>>,
    /// Part of the username.
    pub q: Option<String>,
    pub role: Option<String>,
}

/// One page of accounts (by username) and the total matching.
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &UserFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<UserRow>, i64)> {
    use super::schema::merchants;
    let filtered = || {
        let mut q = users::table.into_boxed::<diesel::pg::Pg>();
        if let Some(regions) = &f.merchant_regions {
            q = q.filter(users::role.eq("merchant")).filter(
                users::merchant_id.eq_any(
                    merchants::table
                        .filter(merchants::region_code.eq_any(regions.clone()))
                        .select(merchants::id.nullable()),
                ),
            );
        }
        if let Some(s) = &f.q {
            let pattern = format!(
                "%{}%",
                s.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            q = q.filter(users::username.like(pattern));
        }
        if let Some(r) = &f.role {
            q = q.filter(users::role.eq(r.clone()));
        }
        q
    };
    let total = filtered().count().get_result(conn).await?;
    let rows = filtered()
        .order(users::username.asc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .select(UserRow::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// Disables or enables an account, audited, in one transaction.
pub async fn set_disabled_audited(
    conn: &mut AsyncPgConnection,
    actor: &super::audit::Actor,
    id: i64,
    disabled: bool,
) -> QueryResult<UserRow> {
    use diesel_async::AsyncConnection;
    conn.transaction(async |conn| {
        let before = find(conn, id)
            .await?
            .ok_or(diesel::result::Error::NotFound)?;
        let codes = region_codes(conn, id).await?;
        let after: UserRow = diesel::update(users::table.find(id))
            .set((
                users::disabled.eq(disabled),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await?;
        if disabled {
            super::sessions::delete_for_user(conn, id, None).await?;
        }
        super::audit::record(
            conn,
            actor,
            if disabled {
                "user.disable"
            } else {
                "user.enable"
            },
            "user",
            &id.to_string(),
            Some(&before.audit_view(&codes)),
            Some(&after.audit_view(&codes)),
        )
        .await?;
        Ok(after)
    })
    .await
}
