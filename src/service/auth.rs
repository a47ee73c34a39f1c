//! Logging in, for every front end: the API issues a token, the console a session; both ask
//! this function whether the credentials are good, under the same failure limit (5 failures per
//! username and client IP in 15 minutes).

use crate::auth::password;
use crate::cache::limits::LOGIN_FAILURES;
use crate::db;
use crate::db::users::UserRow;
use crate::domain::user::Role;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Longest password a login will hash (bounds the work an attacker can ask for).
const MAX_LOGIN_PASSWORD_CHARS: usize = 1024;

/// The username as stored: trimmed, lower case, at most 64 characters.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().to_lowercase().chars().take(64).collect()
}

/// Checks a username and password. `ip_key` is the client's rate-limit key (an IPv6 /64).
/// Wrong credentials → `Unauthorized`; too many failures → `RateLimited`.
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: String,
    ip_key: &str,
) -> AppResult<(UserRow, Role)> {
    let username = normalize_username(username);
    let limit_key = format!("{username}|{ip_key}");
    // The attempt is counted before the password is checked (and the count taken back on
    // success): parallel guesses cannot all pass a check made before any of them failed.
    let attempts = match state.limiter.attempt(&LOGIN_FAILURES, &limit_key).await {
        Ok(n) => n,
        Err(retry_after_secs) => {
            tracing::warn!(%username, ip = %ip_key, "login rate limited");
            return Err(AppError::RateLimited { retry_after_secs });
        }
    };
    let user = {
        let mut conn = state.pool.get().await?;
        db::users::find_by_username(&mut conn, &username).await?
    };
    let verified = match &user {
        Some(u) if !u.disabled && password.chars().count() <= MAX_LOGIN_PASSWORD_CHARS => {
            let stored = u.password_hash.clone();
            tokio::task::spawn_blocking(move || password::verify(&password, &stored))
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("password check stopped: {e}")))?
        }
        _ => {
            tokio::task::spawn_blocking(move || password::verify_dummy(&password))
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("password check stopped: {e}")))?;
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        tracing::info!(%username, ip = %ip_key, failures = attempts, "login failed");
        return Err(AppError::Unauthorized("wrong username or password"));
    };
    state.limiter.reset(&LOGIN_FAILURES, &limit_key).await;
    let role: Role = user
        .role
        .parse()
        .map_err(|_| anyhow::anyhow!("user {} has unknown role {}", user.id, user.role))?;
    tracing::info!(user_id = user.id, ip = %ip_key, "login");
    Ok((user, role))
}
