//! Console sessions: stored by the hash of their cookie value, joined to their user on every
//! request so that a disabled account, a new password or a changed role ends them at once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::{console_sessions, users};
use super::users::UserRow;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = console_sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRow {
    pub id_hash: Vec<u8>,
    pub user_id: i64,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub idle_secs: i32,
    pub remember: bool,
    pub client_ip: String,
    pub user_agent: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = console_sessions)]
pub struct NewSession<'a> {
    pub id_hash: &'a [u8],
    pub user_id: i64,
    pub role: &'a str,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub idle_secs: i32,
    pub remember: bool,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(console_sessions::table)
        .values(new)
        .execute(conn)
        .await
        .map(drop)
}

/// The session and its user, if the session exists (validity is the caller's decision).
pub async fn find(
    conn: &mut AsyncPgConnection,
    id_hash: &[u8],
) -> QueryResult<Option<(SessionRow, UserRow)>> {
    console_sessions::table
        .inner_join(users::table)
        .filter(console_sessions::id_hash.eq(id_hash))
        .select((SessionRow::as_select(), UserRow::as_select()))
        .first(conn)
        .await
        .optional()
}

/// Records activity, at most once a minute per session (a page view is not worth a write).
pub async fn touch(
    conn: &mut AsyncPgConnection,
    id_hash: &[u8],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(
        console_sessions::table
            .filter(console_sessions::id_hash.eq(id_hash))
            .filter(console_sessions::last_seen_at.lt(now - chrono::Duration::seconds(60))),
    )
    .set(console_sessions::last_seen_at.eq(now))
    .execute(conn)
    .await
    .map(drop)
}

pub async fn delete(conn: &mut AsyncPgConnection, id_hash: &[u8]) -> QueryResult<usize> {
    diesel::delete(console_sessions::table.filter(console_sessions::id_hash.eq(id_hash)))
        .execute(conn)
        .await
}

/// Ends every session of a user except `keep` (sign out everywhere else; a password change).
pub async fn delete_for_user(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    keep: Option<&[u8]>,
) -> QueryResult<usize> {
    let q = console_sessions::table.filter(console_sessions::user_id.eq(user_id));
    match keep {
        Some(k) => {
            diesel::delete(q.filter(console_sessions::id_hash.ne(k)))
                .execute(conn)
                .await
        }
        None => diesel::delete(q).execute(conn).await,
    }
}

/// A user's live sessions, newest activity first (the "devices signed in" list).
pub async fn for_user(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Vec<SessionRow>> {
    console_sessions::table
        .filter(console_sessions::user_id.eq(user_id))
        .filter(console_sessions::expires_at.gt(now))
        .order(console_sessions::last_seen_at.desc())
        .limit(50)
        .select(SessionRow::as_select())
        .load(conn)
        .await
}

/// Removes sessions past their absolute end (their uploads go with them).
pub async fn sweep(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(console_sessions::table.filter(console_sessions::expires_at.le(now)))
        .execute(conn)
        .await
}

/// Keeps a previewed import file for its session.
pub async fn put_upload(
    conn: &mut AsyncPgConnection,
    id: &str,
    session_hash: &[u8],
    file_name: &str,
    body: &[u8],
) -> QueryResult<()> {
    use super::schema::console_uploads as u;
    diesel::delete(u::table.filter(u::created_at.lt(Utc::now() - chrono::Duration::minutes(30))))
        .execute(conn)
        .await?;
    diesel::insert_into(u::table)
        .values((
            u::id.eq(id),
            u::session_hash.eq(session_hash),
            u::file_name.eq(file_name),
            u::body.eq(body),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// A previewed file of this session, if it is younger than `max_age`: (file name, bytes).
pub async fn get_upload(
    conn: &mut AsyncPgConnection,
    id: &str,
    session_hash: &[u8],
    max_age: chrono::Duration,
) -> QueryResult<Option<(String, Vec<u8>)>> {
    use super::schema::console_uploads as u;
    u::table
        .filter(u::id.eq(id))
        .filter(u::session_hash.eq(session_hash))
        .filter(u::created_at.gt(Utc::now() - max_age))
        .select((u::file_name, u::body))
        .first(conn)
        .await
        .optional()
}

pub async fn delete_upload(conn: &mut AsyncPgConnection, id: &str) -> QueryResult<usize> {
    use super::schema::console_uploads as u;
    diesel::delete(u::table.filter(u::id.eq(id)))
        .execute(conn)
        .await
}

/// Records that a session used a one-time form id; false if it had already.
pub async fn use_form_id(
    conn: &mut AsyncPgConnection,
    session_hash: &[u8],
    form_id: &str,
) -> QueryResult<bool> {
    use super::schema::console_form_uses as f;
    let n = diesel::insert_into(f::table)
        .values((f::session_hash.eq(session_hash), f::form_id.eq(form_id)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}
