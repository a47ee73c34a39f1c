//! The JSON API under `/api/v1`.

pub mod auth;
pub mod calendar;
pub mod regions;
pub mod settings;
pub mod users;
