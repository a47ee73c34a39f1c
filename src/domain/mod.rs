//! Pure types and rules: no I/O. Every constructor parses, so an invalid value cannot exist.

pub mod complaint;
pub mod grade;
pub mod merchant;
pub mod merchant_input;
pub mod phone;
pub mod region;
pub mod shop_code;
pub mod text;
pub mod time;
pub mod uscc;
pub mod user;
pub mod workdays;

use serde::Serialize;
use utoipa::ToSchema;

/// One failed rule on one field, as reported in problem+json `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The request field (JSON name), e.g. `password` or `holidays[3]`.
    pub field: String,
    /// A stable machine word for the rule, e.g. `too_short`.
    pub code: &'static str,
    /// A human-readable statement of the rule.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}
