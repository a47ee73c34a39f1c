//! The JSON API under `/api/v1`.

pub mod auth;
pub mod calendar;
pub mod complaints;
pub mod imports;
pub mod merchants;
pub mod paging;
pub mod photos;
pub mod qrcodes;
pub mod regions;
pub mod settings;
pub mod stats;
pub mod users;
