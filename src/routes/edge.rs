//! Checks at the edge that hold for every field of every request, whatever the handler:
//! no control characters (NUL above all, which PostgreSQL cannot store) in a query-string
//! parameter or in any string of a JSON body. Refused with 422 naming the parameter or the
//! JSON path, before any handler runs, so nothing is written.
//!
//! Newlines, tabs and carriage returns pass: multi-line fields keep them, and single-line
//! fields collapse them as whitespace. Form bodies are checked by the domain parsers of the
//! forms that take them (so the form page can show the message beside the field).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use serde_json::Value;

use crate::domain::text::control_char_error;
use crate::domain::FieldError;
use crate::error::AppError;

/// The first query parameter carrying a refused character.
pub fn query_control_char(query: &str) -> Option<FieldError> {
    form_urlencoded::parse(query.as_bytes())
        .find_map(|(k, v)| control_char_error(&k, &k).or_else(|| control_char_error(&k, &v)))
}

/// Whether a JSON text may hold a control character in a string: only escapes can put one
/// there (raw control characters are a JSON syntax error, left to the JSON extractor).
fn may_hold_control_char(body: &[u8]) -> bool {
    body.windows(2)
        .any(|w| w[0] == b'\\' && matches!(w[1], b'u' | b'b' | b'f'))
}

fn find_in_value(path: &mut String, v: &Value) -> Option<FieldError> {
    match v {
        Value::String(s) => control_char_error(if path.is_empty() { "body" } else { path }, s),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find_in_value(path, item);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, item)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(k);
            let found = control_char_error(path, k).or_else(|| find_in_value(path, item));
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// The first string (or key) of a JSON body carrying a refused character, named by its path.
pub fn json_control_char(body: &[u8]) -> Option<FieldError> {
    if !may_hold_control_char(body) {
        return None;
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    find_in_value(&mut String::new(), &value)
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || m.ends_with("+json")
        })
        .unwrap_or(false)
}

pub async fn refuse_control_chars(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let refuse = |req: ServiceRequest, e: FieldError| {
        let resp = AppError::validation(e).error_response();
        Ok(req.into_response(resp).map_into_right_body())
    };
    if let Some(e) = req.uri().query().and_then(query_control_char) {
        return refuse(req, e);
    }
    if is_json(&req) {
        // Bounded by the app's PayloadConfig; the JSON extractor applies its own limit after.
        let body = req.extract::<web::Bytes>().await?;
        if let Some(e) = json_control_char(&body) {
            return refuse(req, e);
        }
        req.set_payload(Payload::from(body));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_query_parameter() {
        let e = query_control_char("page=1&q=%00abc").unwrap();
        assert_eq!((e.field.as_str(), e.code), ("q", "control_character"));
        assert!(query_control_char("q=%E8%8D%AF%E6%88%BF&region=513201").is_none());
        assert!(query_control_char("q=a%0Ab").is_none());
    }

    #[test]
    fn names_the_json_path() {
        let e = json_control_char(br#"{"name":"ok","pledges":["a","b\u0000"]}"#).unwrap();
        assert_eq!(e.field, "pledges[1]");
        let e = json_control_char(br#"{"a":{"b":"\u001b[31m"}}"#).unwrap();
        assert_eq!(e.field, "a.b");
        assert!(json_control_char(br#"{"note":"line\nline\t\u4e2d"}"#).is_none());
        assert!(json_control_char(br#"{"note":"\\u0000 is text"}"#).is_none());
    }
}
