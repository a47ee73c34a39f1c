//! Account use cases: creating an account (administrators any; regulators merchant logins of
//! merchants in their jurisdiction), decided before its fields are checked, reading one, and
//! logging in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::policy::{self, NewAccount};
use crate::auth::{password, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::users::{NewUser, UserRow};
use crate::domain::region::RegionCode;
use crate::domain::user::{NewPassword, Role, Username};
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    /// `admin`, `regulator` or `merchant`.
    #[schema(inline, value_type = Role)]
    pub role: String,
    /// Required for a regulator: its jurisdiction. Not allowed otherwise.
    #[serde(default)]
    pub region_codes: Vec<String>,
    /// Required for a merchant login: the merchant it belongs to. Not allowed otherwise.
    pub merchant_id: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub region_codes: Vec<String>,
    pub merchant_id: Option<i64>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl UserView {
    fn new(row: &UserRow, role: Role, region_codes: Vec<String>) -> Self {
        Self {
            id: row.id,
            username: row.username.clone(),
            role,
            region_codes,
            merchant_id: row.merchant_id,
            disabled: row.disabled,
            created_at: row.created_at,
        }
    }
}

/// A create request whose every field obeys its rules.
struct ValidCreate {
    username: Username,
    password: NewPassword,
    role: Role,
    regions: Vec<RegionCode>,
    merchant_id: Option<i64>,
}

fn validate(body: &CreateUserRequest) -> Result<ValidCreate, Vec<FieldError>> {
    let mut errors = Vec::new();
    let username = Username::parse(&body.username)
        .map_err(|e| errors.push(e))
        .ok();
    let password = NewPassword::parse(&body.password)
        .map_err(|e| errors.push(e))
        .ok();
    let role = body.role.parse::<Role>().map_err(|e| errors.push(e)).ok();
    let mut regions = Vec::new();
    for (i, code) in body.region_codes.iter().enumerate() {
        match RegionCode::parse(code) {
            Ok(c) if !regions.contains(&c) => regions.push(c),
            Ok(_) => {}
            Err(e) => errors.push(FieldError::new(
                format!("region_codes[{i}]"),
                "invalid_region_code",
                e.to_string(),
            )),
        }
    }
    match role {
        Some(Role::Regulator) if body.region_codes.is_empty() => errors.push(FieldError::new(
            "region_codes",
            "required",
            "a regulator needs a jurisdiction: at least one region code",
        )),
        Some(Role::Admin | Role::Merchant) if !body.region_codes.is_empty() => {
            errors.push(FieldError::new(
                "region_codes",
                "not_allowed",
                "only regulators have a jurisdiction",
            ))
        }
        _ => {}
    }
    match (role, body.merchant_id) {
        (Some(Role::Merchant), None) => errors.push(FieldError::new(
            "merchant_id",
            "required",
            "a merchant login must name its merchant",
        )),
        (Some(Role::Admin | Role::Regulator), Some(_)) => errors.push(FieldError::new(
            "merchant_id",
            "not_allowed",
            "only merchant logins belong to a merchant",
        )),
        _ => {}
    }
    match (username, password, role) {
        (Some(username), Some(password), Some(role)) if errors.is_empty() => Ok(ValidCreate {
            username,
            password,
            role,
            regions,
            merchant_id: body.merchant_id,
        }),
        _ => Err(errors),
    }
}

/// Creates an account. Admins create any; a regulator creates merchant logins for merchants in
/// its jurisdiction (404 for a merchant outside it). The password is hashed off the async
/// workers; the account, its jurisdiction and the audit entry are one transaction.
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    input: &CreateUserRequest,
) -> AppResult<UserView> {
    policy::create_user_role(user, input.role.parse::<Role>().ok()).check()?;
    let valid = validate(input).map_err(AppError::Validation)?;
    let mut conn = state.pool.get().await?;

    let merchant = match valid.merchant_id {
        Some(id) => match db::merchants::find(&mut conn, id).await? {
            Some(m) => Some(m),
            // a regulator may not learn which merchant ids exist
            None => {
                policy::name_unknown_merchant(user).check()?;
                return Err(AppError::validation(FieldError::new(
                    "merchant_id",
                    "unknown_merchant",
                    format!("there is no merchant {id}"),
                )));
            }
        },
        None => None,
    };
    let merchant_region = merchant
        .as_ref()
        .map(|m| RegionCode::parse(&m.region_code))
        .transpose()
        .map_err(|e| anyhow::anyhow!("stored region code is invalid: {e}"))?;
    policy::create_user(
        user,
        &NewAccount {
            role: valid.role,
            region_codes: &valid.regions,
            merchant_region: merchant_region.as_ref(),
        },
    )
    .check()?;

    let codes: Vec<String> = valid.regions.iter().map(|c| c.to_string()).collect();
    let known = db::regions::existing(&mut conn, &codes).await?;
    let unknown: Vec<FieldError> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| !known.contains(c))
        .map(|(i, c)| {
            FieldError::new(
                format!("region_codes[{i}]"),
                "unknown_region",
                format!("region {c} is not loaded in this deployment"),
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::Validation(unknown));
    }

    let pw = valid.password;
    let hash = tokio::task::spawn_blocking(move || password::hash(pw.expose()))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing stopped: {e}")))??;
    let new = NewUser {
        username: valid.username.as_str(),
        password_hash: &hash,
        role: valid.role.as_str(),
        merchant_id: valid.merchant_id,
    };
    let created = db::users::create_audited(&mut conn, &actor, &new, &codes)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::Conflict {
                code: "duplicate_username",
                detail: format!("the username {} is taken", new.username),
            },
            other => other,
        })?;
    tracing::info!(user_id = created.id, by = user.id, "user created");
    Ok(UserView::new(&created, valid.role, codes))
}

/// One account: oneself; admins any; regulators the merchant logins of merchants in their
/// jurisdiction (404 otherwise).
pub async fn get(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<UserView> {
    let mut conn = state.pool.get().await?;
    let target = db::users::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let role: Role = target
        .role
        .parse()
        .map_err(|_| anyhow::anyhow!("user {} has unknown role", target.id))?;
    let merchant_region = match target.merchant_id {
        Some(mid) => db::merchants::find(&mut conn, mid)
            .await?
            .and_then(|m| RegionCode::parse(&m.region_code).ok()),
        None => None,
    };
    policy::view_user(user, target.id, role, merchant_region.as_ref()).check()?;
    let codes = db::users::region_codes(&mut conn, target.id).await?;
    Ok(UserView::new(&target, role, codes))
}

/// The account list's filters, as given.
#[derive(Debug, Clone, Default)]
pub struct UserListFilter {
    pub q: Option<String>,
    pub role: Option<String>,
}

/// Accounts the caller administers: admins all; regulators the merchant logins of merchants in
/// their jurisdiction. By username.
pub async fn list(
    state: &AppState,
    user: &CurrentUser,
    filter: &UserListFilter,
    paging: &crate::service::paging::PageQuery,
) -> AppResult<crate::service::paging::Page<UserView>> {
    policy::list_users(user).check()?;
    let (page, per_page) = paging.parse()?;
    let role = match filter
        .role
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(r) => Some(r.parse::<Role>().map_err(|_| {
            AppError::validation(FieldError::new(
                "role",
                "invalid_role",
                "role must be one of admin, regulator, merchant",
            ))
        })?),
        None => None,
    };
    let q = filter
        .q
        .as_deref()
        .map(crate::domain::text::clean_text)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_lowercase());
    let mut conn = state.pool.get().await?;
    let merchant_regions = crate::service::dashboard::visible_regions(&mut conn, user).await?;
    let (rows, total) = db::users::list(
        &mut conn,
        &db::users::UserFilter {
            merchant_regions,
            q,
            role: role.map(|r| r.as_str().to_owned()),
        },
        page,
        per_page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let role: Role = row
            .role
            .parse()
            .map_err(|_| anyhow::anyhow!("user {} has unknown role", row.id))?;
        let codes = db::users::region_codes(&mut conn, row.id).await?;
        items.push(UserView::new(&row, role, codes));
    }
    Ok(crate::service::paging::Page {
        items,
        total,
        page,
        per_page,
    })
}

/// The account `id` if the caller may administer it (404 / 403 otherwise).
async fn administered(
    conn: &mut diesel_async::AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<(UserRow, Role)> {
    if user.role == Role::Merchant {
        policy::administer_user(user, id, Role::Merchant, None).check()?;
    }
    let target = db::users::find(conn, id).await?.ok_or(AppError::NotFound)?;
    let role: Role = target
        .role
        .parse()
        .map_err(|_| anyhow::anyhow!("user {} has unknown role", target.id))?;
    let merchant_region = match target.merchant_id {
        Some(mid) => db::merchants::find(conn, mid)
            .await?
            .and_then(|m| RegionCode::parse(&m.region_code).ok()),
        None => None,
    };
    policy::administer_user(user, target.id, role, merchant_region.as_ref()).check()?;
    Ok((target, role))
}

/// Disables (or enables again) an account: its tokens and console sessions stop working at once.
pub async fn set_disabled(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
    disabled: bool,
) -> AppResult<UserView> {
    let mut conn = state.pool.get().await?;
    let (_, role) = administered(&mut conn, user, id).await?;
    let row = db::users::set_disabled_audited(&mut conn, &actor, id, disabled).await?;
    let codes = db::users::region_codes(&mut conn, id).await?;
    tracing::info!(
        user_id = id,
        disabled,
        by = user.id,
        "account disabled flag set"
    );
    Ok(UserView::new(&row, role, codes))
}

/// Sets a new password for another account (a merchant who forgot theirs): every token and
/// session of that account ends.
pub async fn reset_password(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
    new_password: &str,
) -> AppResult<UserView> {
    let mut conn = state.pool.get().await?;
    let (_, role) = administered(&mut conn, user, id).await?;
    let pw = NewPassword::parse(new_password).map_err(AppError::validation)?;
    let hash = tokio::task::spawn_blocking(move || password::hash(pw.expose()))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing stopped: {e}")))??;
    let row = db::users::set_password_audited(&mut conn, &actor, id, &hash).await?;
    db::sessions::delete_for_user(&mut conn, id, None).await?;
    let codes = db::users::region_codes(&mut conn, id).await?;
    Ok(UserView::new(&row, role, codes))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    pub role: Role,
}

/// Logs in with username and password from a client whose rate-limit key is `ip`. Five failures
/// for one username from one client within 15 minutes block further attempts (429) until the
/// window ends; a wrong username costs the same hashing time as a wrong password.
pub async fn login(state: &AppState, ip: &str, input: &LoginRequest) -> AppResult<LoginResponse> {
    let (user, role) =
        crate::service::auth::authenticate(state, &input.username, input.password.clone(), ip)
            .await?;
    let token = state.jwt.issue(user.id, role, Utc::now())?;
    Ok(LoginResponse {
        token,
        token_type: "Bearer".to_owned(),
        expires_in: state.jwt.ttl.as_secs(),
        role,
    })
}
