//! Console sessions as use cases: start one after a good login, resolve a cookie to its caller
//! (ending it if it has run out or its user changed), end one, end all others.

use chrono::{DateTime, Utc};

use crate::auth::session::{self, Lifetime};
use crate::auth::CurrentUser;
use crate::db;
use crate::db::sessions::{NewSession, SessionRow};
use crate::db::users::UserRow;
use crate::domain::user::Role;
use crate::error::AppResult;
use crate::state::AppState;

/// A started session: the cookie value to send and how long it lives.
pub struct Started {
    pub token: String,
    pub lifetime: Lifetime,
}

/// A resolved session: who is calling, through which session.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub token: String,
    pub row: SessionRow,
    pub user: CurrentUser,
}

fn secs(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2))
}

/// Starts a session for a user who has just proved who they are.
pub async fn start(
    state: &AppState,
    user: &UserRow,
    role: Role,
    remember: bool,
    client_ip: &str,
    user_agent: &str,
) -> AppResult<Started> {
    let lifetime = session::lifetime(role, remember);
    let token = session::new_token();
    let hash = session::hash(&token);
    let now = Utc::now();
    let ua: String = user_agent.chars().take(300).collect();
    let mut conn = state.pool.get().await?;
    db::sessions::sweep(&mut conn, now).await?;
    db::sessions::insert(
        &mut conn,
        &NewSession {
            id_hash: &hash,
            user_id: user.id,
            role: role.as_str(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + secs(lifetime.absolute),
            idle_secs: i32::try_from(lifetime.idle.as_secs()).unwrap_or(i32::MAX),
            remember: lifetime.persistent,
            client_ip,
            user_agent: &ua,
        },
    )
    .await?;
    Ok(Started { token, lifetime })
}

/// Why a stored session no longer admits its holder, if it does not.
pub fn ended(row: &SessionRow, user: &UserRow, now: DateTime<Utc>) -> Option<&'static str> {
    if row.expires_at <= now {
        Some("expired")
    } else if now - row.last_seen_at > chrono::Duration::seconds(i64::from(row.idle_secs)) {
        Some("idle")
    } else if user.disabled {
        Some("account disabled")
    } else if user.password_changed_at > row.created_at {
        Some("password changed")
    } else if user.role != row.role {
        Some("role changed")
    } else {
        None
    }
}

/// The caller behind a cookie value, or `None` (an unknown, ended or malformed cookie). An
/// ended session is deleted on the way.
pub async fn resolve(state: &AppState, token: &str) -> AppResult<Option<Resolved>> {
    if !session::well_formed(token) {
        return Ok(None);
    }
    let hash = session::hash(token);
    let mut conn = state.pool.get().await?;
    let Some((row, user)) = db::sessions::find(&mut conn, &hash).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if let Some(why) = ended(&row, &user, now) {
        tracing::info!(user_id = user.id, why, "console session ended");
        db::sessions::delete(&mut conn, &hash).await?;
        return Ok(None);
    }
    db::sessions::touch(&mut conn, &hash, now).await?;
    let role: Role = user
        .role
        .parse()
        .map_err(|_| anyhow::anyhow!("user {} has unknown role {}", user.id, user.role))?;
    let regions = db::users::region_codes(&mut conn, user.id).await?;
    let current = CurrentUser::new(user.id, user.username, role, regions, user.merchant_id);
    Ok(Some(Resolved {
        token: token.to_owned(),
        row,
        user: current,
    }))
}

/// Ends one session (logout).
pub async fn end(state: &AppState, token: &str) -> AppResult<()> {
    let mut conn = state.pool.get().await?;
    db::sessions::delete(&mut conn, &session::hash(token)).await?;
    Ok(())
}

/// Ends every session of `user_id` but `keep` ("sign out everywhere else").
pub async fn end_others(state: &AppState, user_id: i64, keep: &str) -> AppResult<usize> {
    let mut conn = state.pool.get().await?;
    Ok(db::sessions::delete_for_user(&mut conn, user_id, Some(&session::hash(keep))).await?)
}

/// A user's live sessions (devices signed in).
pub async fn list(state: &AppState, user_id: i64) -> AppResult<Vec<SessionRow>> {
    let mut conn = state.pool.get().await?;
    Ok(db::sessions::for_user(&mut conn, user_id, Utc::now()).await?)
}
