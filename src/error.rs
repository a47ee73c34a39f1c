//! One error type for the whole service, rendered as RFC 9457 problem+json. Internal failures
//! are logged with their cause chain; the client only ever sees an opaque message.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// It existed and was withdrawn (a revoked shop code): 410.
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    PayloadTooLarge { detail: String },
    #[error("{detail}")]
    UnsupportedMediaType { detail: String },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("{detail}")]
    Unavailable {
        detail: &'static str,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

/// The problem+json body (RFC 9457) with this API's `code` and `errors` extensions.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine word, e.g. `not_found`, `invalid_credentials`, `validation_failed`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<FieldErrorSchema>)]
    pub errors: Vec<FieldErrorOwned>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct FieldErrorOwned {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// Schema twin of [`FieldError`] for the OpenAPI document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldErrorSchema {
    field: String,
    code: String,
    message: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            type_: format!("/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            errors: Vec::new(),
        }
    }

    /// A problem for a bare status produced outside our handlers (unknown route, wrong method…).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "this method is not allowed on this resource",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "unsupported content type")
            }
            StatusCode::BAD_REQUEST => ("bad_request", "the request could not be understood"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required"),
            StatusCode::FORBIDDEN => ("forbidden", "not allowed"),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
            StatusCode::URI_TOO_LONG => ("uri_too_long", "the request URI is too long"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
                ("headers_too_large", "the request headers are too large")
            }
            s if s.is_server_error() => ("internal_error", "an internal error occurred"),
            _ => ("error", "the request failed"),
        };
        Self::new(status, code, detail)
    }

    pub fn into_response(self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(serde_json::to_vec(&self).unwrap_or_default())
    }
}

impl AppError {
    pub fn validation(e: FieldError) -> Self {
        AppError::Validation(vec![e])
    }

    /// The same answer for another request that shared this error (requests coalesced on one
    /// render): the database's unavailability stays a 503, a missing page a 404; anything
    /// else is an internal error with this one's message.
    pub fn shared_copy(&self) -> Self {
        match self {
            AppError::NotFound => AppError::NotFound,
            AppError::Unavailable {
                detail,
                retry_after_secs,
            } => AppError::Unavailable {
                detail,
                retry_after_secs: *retry_after_secs,
            },
            other => AppError::Internal(anyhow::anyhow!("page render failed: {other}")),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        AppError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_failed",
            AppError::BadRequest { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::Gone { code, .. } => code,
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound => "not_found",
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::UnsupportedMediaType { .. } => "unsupported_media_type",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            AppError::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            AppError::NotFound => "no such resource, or not in your jurisdiction".to_owned(),
            AppError::RateLimited { retry_after_secs } => {
                format!("too many attempts; retry after {retry_after_secs} seconds")
            }
            AppError::Internal(_) => "an internal error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        };
        let mut p = Problem::new(status, self.code(), detail);
        if let AppError::Validation(errors) = self {
            p.errors = errors
                .iter()
                .map(|e| FieldErrorOwned {
                    field: e.field.clone(),
                    code: e.code.to_owned(),
                    message: e.message.clone(),
                })
                .collect();
        }
        p
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Gone { .. } => StatusCode::GONE,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(e) = self {
            // `{:#}` prints the whole cause chain on one line.
            tracing::error!(error = %format!("{e:#}"), "internal error");
        }
        let mut resp = self.problem().into_response();
        let retry = match self {
            AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            AppError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        if matches!(self, AppError::Unauthorized(_)) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => AppError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // The constraint's name is the schema's business, not the client's: logged,
                // and said in words.
                let constraint = info.constraint_name().unwrap_or_default().to_owned();
                tracing::info!(%constraint, "unique violation answered as 409");
                let detail = if constraint.contains("username") {
                    "this username is already taken"
                } else if constraint.contains("uscc") {
                    "a merchant with this USCC already exists"
                } else {
                    "this record already exists"
                };
                AppError::Conflict {
                    code: "conflict",
                    detail: detail.into(),
                }
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => AppError::Unavailable {
                detail: "the database is unavailable",
                retry_after_secs: 5,
            },
            // The statement timeout (a lock held, PostgreSQL overloaded), the server shutting
            // down under a statement, or its connection gone (a restart: tokio-postgres says
            // "connection closed" for a query on a connection the server has just closed):
            // the request can be tried again shortly.
            Error::DatabaseError(_, info)
                if [
                    "statement timeout",
                    "lock timeout",
                    "terminating connection",
                    "shutting down",
                    "connection closed",
                    "error communicating with the server",
                ]
                .iter()
                .any(|m| info.message().contains(m)) =>
            {
                tracing::warn!(error = info.message(), "database slow or restarting");
                AppError::Unavailable {
                    detail: "the database is busy or restarting",
                    retry_after_secs: 5,
                }
            }
            other => AppError::Internal(anyhow::Error::new(other).context("database query")),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %e, "database pool: no connection");
        crate::db::metrics::TIMEOUTS.inc();
        AppError::Unavailable {
            detail: "the database is unavailable",
            retry_after_secs: 5,
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

/// JSON body errors (malformed, wrong content type, too large) as problem+json.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let app = match &err {
        J::OverflowKnownLength { length, limit } => AppError::PayloadTooLarge {
            detail: format!("the JSON body is {length} bytes; the limit is {limit} bytes"),
        },
        J::Overflow { limit } => AppError::PayloadTooLarge {
            detail: format!("the JSON body exceeds the limit of {limit} bytes"),
        },
        J::ContentType => AppError::UnsupportedMediaType {
            detail: "the body must be JSON (Content-Type: application/json)".to_owned(),
        },
        // Well-formed JSON that does not fit the request type (handlers use
        // `crate::extract::Json`, which names the field's whole path; this is the fallback).
        J::Deserialize(e) if e.is_data() => {
            AppError::validation(crate::extract::unlocated_error(&e.to_string(), false))
        }
        J::Deserialize(e) => {
            AppError::bad_request("malformed_json", format!("malformed JSON body: {e}"))
        }
        J::Payload(actix_web::error::PayloadError::Overflow) => AppError::PayloadTooLarge {
            detail: "the body is too large".to_owned(),
        },
        other => AppError::bad_request(
            "malformed_body",
            format!("could not read the body: {other}"),
        ),
    };
    app.into()
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    // Handlers use `crate::extract::Query`, which names the parameter; this is the fallback.
    AppError::validation(crate::extract::unlocated_error(&err.to_string(), true)).into()
}

pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    // A path segment that does not parse names nothing that exists.
    tracing::debug!(error = %err, "path did not parse");
    AppError::NotFound.into()
}

/// 405 problem with the `Allow` header (RFC 9110: required on a 405).
pub fn method_not_allowed(methods: &[&str]) -> HttpResponse {
    let mut resp = Problem::for_status(StatusCode::METHOD_NOT_ALLOWED).into_response();
    if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// Middleware hook: actix's own error responses (404 for an unknown route, 405, 413 from a
/// payload limit…) are rewritten as problem+json.
pub fn problemize<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Our handlers answer in problem+json, JSON or HTML on purpose; actix's own errors come as
    // text/plain or with no body at all.
    if !(ct.is_empty() || ct.starts_with("text/plain")) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let allow = res.headers().get(header::ALLOW).cloned();
    let (req, _old) = res.into_parts();
    let mut resp = Problem::for_status(status).into_response();
    if let Some(v) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    if let Some(v) = allow {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    let res: ServiceResponse<EitherBody<B>> = ServiceResponse::new(req, resp).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// The answer for a request no route took: 405 when the path exists under another method,
/// 404 otherwise.
pub async fn no_route(req: actix_web::HttpRequest) -> HttpResponse {
    let documented = req
        .app_data::<actix_web::web::Data<crate::openapi::RouteTable>>()
        .and_then(|routes| routes.allowed(req.path()).map(<[_]>::to_vec));
    if let Some(methods) = documented {
        if methods.contains(&req.method().as_str()) {
            // the template matched but the route's own pattern did not (`/calendar/{year:\d+}`)
            Problem::for_status(StatusCode::NOT_FOUND).into_response()
        } else {
            method_not_allowed(&methods)
        }
    } else if req.resource_map().has_resource(req.path()) {
        // undocumented routes (the spec itself, Swagger UI) are read-only
        method_not_allowed(&["GET", "HEAD"])
    } else {
        Problem::for_status(StatusCode::NOT_FOUND).into_response()
    }
}

#[cfg(test)]
mod unique_violation_tests {
    use super::*;

    struct Info;
    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            "duplicate key value violates unique constraint \"users_username_key\""
        }
        fn details(&self) -> Option<&str> {
            Some("Key (username)=(x) already exists.")
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            Some("users")
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            Some("users_username_key")
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn error_bodies_never_carry_constraint_names() {
        let e: AppError = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            Box::new(Info),
        )
        .into();
        let body = serde_json::to_string(&e.problem()).unwrap();
        assert!(
            !body.contains("users_username_key") && !body.contains("Key ("),
            "{body}"
        );
        assert!(body.contains("username is already taken"), "{body}");
    }

    /// A query on a connection PostgreSQL closed (a restart under load) is a 503 to retry,
    /// not a 500: `bench/faults.sh` saw 500s "connection closed" while PostgreSQL restarted.
    #[test]
    fn a_connection_closed_under_a_query_is_unavailable() {
        for message in [
            "connection closed",
            "error communicating with the server: Connection reset by peer (os error 104)",
        ] {
            let e: AppError = diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UnableToSendCommand,
                Box::new(message.to_owned()),
            )
            .into();
            assert!(
                matches!(e, AppError::Unavailable { .. }),
                "{message}: {e:?}"
            );
        }
    }
}
