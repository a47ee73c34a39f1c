//! `CurrentUser`: the authenticated caller, as a handler argument. The token proves who; the
//! database says what they may do now (role, jurisdiction, disabled, password changed).

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::domain::region::RegionCode;
use crate::domain::user::Role;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// The jurisdiction of a regulator (a prefecture code covers its counties); empty otherwise.
    pub region_codes: Vec<String>,
    /// The merchant a merchant login belongs to.
    pub merchant_id: Option<i64>,
    #[serde(skip)]
    #[schema(ignore)]
    pub jurisdiction: Vec<RegionCode>,
}

impl CurrentUser {
    pub fn new(
        id: i64,
        username: String,
        role: Role,
        region_codes: Vec<String>,
        merchant_id: Option<i64>,
    ) -> Self {
        let jurisdiction = region_codes
            .iter()
            .filter_map(|c| RegionCode::parse(c).ok())
            .collect();
        Self {
            id,
            username,
            role,
            region_codes,
            merchant_id,
            jurisdiction,
        }
    }
}

/// The token from `Authorization: Bearer …`.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        // Downloads (posters, exports) are plain links in the console: a safe request without a
        // bearer token may be authenticated by the console's session cookie. State-changing
        // requests never are (they would need the console's CSRF check).
        let cookie = (token.is_none() && matches!(*req.method(), Method::GET | Method::HEAD))
            .then(|| req.cookie(crate::auth::session::COOKIE))
            .flatten()
            .map(|c| c.value().to_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| anyhow::anyhow!("AppState missing"))?;
            if let Some(cookie) = cookie {
                if let Some(s) = crate::service::sessions::resolve(&state, &cookie).await? {
                    return Ok(s.user);
                }
            }
            let token = token.ok_or(AppError::Unauthorized("a bearer token is required"))?;
            let claims = state.jwt.verify(&token).map_err(|why| {
                tracing::info!(reason = %why, "rejected token");
                AppError::Unauthorized("the token is invalid or expired")
            })?;
            let id: i64 = claims
                .sub
                .parse()
                .map_err(|_| AppError::Unauthorized("the token is invalid or expired"))?;
            let mut conn = state.pool.get().await?;
            let (user, regions) = db::users::find_with_regions(&mut conn, id)
                .await?
                .ok_or(AppError::Unauthorized("the token is invalid or expired"))?;
            drop(conn);
            if user.disabled {
                return Err(AppError::Unauthorized("this account is disabled"));
            }
            if claims.iat < user.password_changed_at.timestamp() {
                return Err(AppError::Unauthorized(
                    "the password was changed after this token was issued; log in again",
                ));
            }
            let role: Role = user
                .role
                .parse()
                .map_err(|_| anyhow::anyhow!("user {} has unknown role {}", user.id, user.role))?;
            if role != claims.role {
                return Err(AppError::Unauthorized(
                    "the account's role changed after this token was issued; log in again",
                ));
            }
            Ok(CurrentUser::new(
                user.id,
                user.username,
                role,
                regions,
                user.merchant_id,
            ))
        })
    }
}
