//! Authentication (passwords, tokens, the caller extractor) and authorization (policy).

pub mod extractor;
pub mod form_token;
pub mod jwt;
pub mod password;
pub mod policy;
pub mod session;

pub use extractor::CurrentUser;
