//! Request extractors that name the field at fault. actix's own `web::Json` and `web::Query`
//! report a missing field, an unknown field or a wrong type as one opaque message (and a wrong
//! type without the field at all); these answer 422 problem+json with
//! `errors: [{field, code, message}]`, the field's path found by `serde_path_to_error`.
//!
//! A JSON body is first read as a `serde_json::Value` through actix's `web::Json` (so the
//! `JsonConfig` limits and error handler still answer a body that is not JSON at all: 400, 413,
//! 415); only a well-formed body that does not fit the request type is a 422 here.

use std::ops::{Deref, DerefMut};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::domain::FieldError;
use crate::error::AppError;

/// Where a request value came from (decides how a parse failure is worded).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Body,
    Query,
}

/// A serde error at `path` as a field error: `required`, `unknown_field`, `invalid_type` or
/// `invalid_value`.
fn field_error(path: &str, message: &str, origin: Origin) -> FieldError {
    let path = path.to_owned();
    let at = |name: &str| -> String {
        if path == "." || path.is_empty() {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    let (field, code) = if let Some(rest) = message.strip_prefix("missing field ") {
        (at(&quoted(rest).unwrap_or_default()), "required")
    } else if let Some(rest) = message.strip_prefix("unknown field ") {
        (at(&quoted(rest).unwrap_or_default()), "unknown_field")
    } else if message.starts_with("invalid type") {
        (path.clone(), "invalid_type")
    } else if origin == Origin::Query
        && (message.contains("invalid digit")
            || message.contains("cannot parse")
            || message.contains("provided string was not")
            || message.contains("invalid float"))
    {
        // A query string is text: a number or boolean that does not parse is of the wrong type.
        (path.clone(), "invalid_type")
    } else {
        (path.clone(), "invalid_value")
    };
    let field = if field == "." || field.is_empty() {
        match origin {
            Origin::Body => "body".to_owned(),
            Origin::Query => "query".to_owned(),
        }
    } else {
        field
    };
    let message = if origin == Origin::Query && code == "invalid_type" {
        format!("{field}: {message}")
    } else {
        message.to_owned()
    };
    FieldError::new(field, code, message)
}

/// JSON has one number type: `3.0` is the integer 3 (JSON Schema agrees), which serde would
/// refuse for an integer field. Integral floats in the integer range become integers.
fn integral_floats_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0
                    && (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&f)
                {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Deserializes a parsed JSON body into `T`, naming the field on failure.
pub fn from_json_value<T: DeserializeOwned>(mut value: serde_json::Value) -> Result<T, AppError> {
    integral_floats_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        AppError::validation(field_error(&e.path().to_string(), &message, Origin::Body))
    })
}

/// A serde data error without its path (all that actix's own `web::Json` and `web::Query`
/// errors carry): the field named in the message when it names one.
pub fn unlocated_error(message: &str, query: bool) -> FieldError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let message = message
        .strip_prefix("Query deserialize error: ")
        .unwrap_or(message);
    let origin = if query { Origin::Query } else { Origin::Body };
    field_error(".", message, origin)
}

/// Deserializes a query string into `T`, naming the parameter on failure.
pub fn from_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let message = e.inner().to_string();
        AppError::validation(field_error(&e.path().to_string(), &message, Origin::Query))
    })
}

/// A JSON request body: 400 when it is not JSON, 422 naming the field when it does not fit `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            // Every request body of this API is an object (serde would also take a struct's
            // fields as an array, in order: not what the spec says).
            if !value.is_object() {
                return Err(AppError::validation(FieldError::new(
                    "body",
                    "invalid_type",
                    "the body must be a JSON object",
                ))
                .into());
            }
            Ok(Json(from_json_value(value)?))
        })
    }
}

/// Query parameters: 422 naming the parameter when one is missing or does not parse.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            from_query(req.query_string())
                .map(Query)
                .map_err(Into::into),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: Option<i64>,
        #[serde(default)]
        days: Vec<chrono::NaiveDate>,
    }

    fn err(v: serde_json::Value) -> FieldError {
        match from_json_value::<Body>(v) {
            Err(AppError::Validation(mut e)) => e.remove(0),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = err(serde_json::json!({}));
        assert_eq!((e.field.as_str(), e.code), ("name", "required"));
        let e = err(serde_json::json!({"name": "a", "colour": 1}));
        assert_eq!((e.field.as_str(), e.code), ("colour", "unknown_field"));
        let e = err(serde_json::json!({"name": 5}));
        assert_eq!((e.field.as_str(), e.code), ("name", "invalid_type"));
        let e = err(serde_json::json!({"name": "a", "count": "x"}));
        assert_eq!((e.field.as_str(), e.code), ("count", "invalid_type"));
        let e = err(serde_json::json!({"name": "a", "days": ["2026-01-01", "nope"]}));
        assert_eq!((e.field.as_str(), e.code), ("days[1]", "invalid_value"));
        let e = err(serde_json::json!("text"));
        assert_eq!((e.field.as_str(), e.code), ("body", "invalid_type"));
        // 3.0 is the integer 3; 3.5 is not an integer
        assert!(from_json_value::<Body>(serde_json::json!({"name": "a", "count": 3.0})).is_ok());
        let e = err(serde_json::json!({"name": "a", "count": 3.5}));
        assert_eq!((e.field.as_str(), e.code), ("count", "invalid_type"));
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Params {
        from: chrono::NaiveDate,
        days: u32,
        flag: Option<bool>,
    }

    fn qerr(q: &str) -> FieldError {
        match from_query::<Params>(q) {
            Err(AppError::Validation(mut e)) => e.remove(0),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert!(from_query::<Params>("from=2026-01-01&days=3").is_ok());
        let e = qerr("days=3");
        assert_eq!((e.field.as_str(), e.code), ("from", "required"));
        let e = qerr("from=2026-01-01&days=x");
        assert_eq!((e.field.as_str(), e.code), ("days", "invalid_type"));
        let e = qerr("from=yesterday&days=1");
        assert_eq!((e.field.as_str(), e.code), ("from", "invalid_value"));
        let e = qerr("from=2026-01-01&days=1&flag=maybe");
        assert_eq!((e.field.as_str(), e.code), ("flag", "invalid_type"));
    }
}
