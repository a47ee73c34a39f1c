//! The caller's own account: changing one's password.

use crate::auth::{password, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::users::UserRow;
use crate::domain::user::NewPassword;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// What a password change asks for.
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's password after checking the current one. Every token and console
/// session issued before ends (the front end starts a new session for the caller if it has one).
/// Returns the account as it now is.
pub async fn change_password(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    input: PasswordChange,
) -> AppResult<UserRow> {
    let mut errors = Vec::new();
    let new = match NewPassword::parse(&input.new_password) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(FieldError {
                field: "new_password".into(),
                ..e
            });
            None
        }
    };
    if input.current_password.is_empty() {
        errors.push(FieldError::new(
            "current_password",
            "required",
            "current_password is required",
        ));
    }
    if input.current_password == input.new_password && !input.new_password.is_empty() {
        errors.push(FieldError::new(
            "new_password",
            "unchanged",
            "new_password must differ from the current password",
        ));
    }
    let stored = {
        let mut conn = state.pool.get().await?;
        db::users::find(&mut conn, user.id)
            .await?
            .ok_or(AppError::NotFound)?
            .password_hash
    };
    if !input.current_password.is_empty() && input.current_password.chars().count() <= 1024 {
        let current = input.current_password.clone();
        let ok = tokio::task::spawn_blocking(move || password::verify(&current, &stored))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("password check stopped: {e}")))?;
        if !ok {
            errors.push(FieldError::new(
                "current_password",
                "wrong_password",
                "current_password is not the account's password",
            ));
        }
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let pw = new.expose().to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing stopped: {e}")))??;
    let mut conn = state.pool.get().await?;
    let row = db::users::set_password_audited(&mut conn, &actor, user.id, &hash).await?;
    db::sessions::delete_for_user(&mut conn, user.id, None).await?;
    Ok(row)
}
