//! The JSON API under `/api/v1`.

pub mod audit;
pub mod auth;
pub mod calendar;
pub mod complaints;
pub mod imports;
pub mod merchants;
pub mod objections;
/// Paging moved with the use cases that page (`service::paging`); the API names it here.
pub mod paging {
    pub use crate::service::paging::*;
}
pub mod photos;
pub mod qrcodes;
pub mod regions;
pub mod repairs;
pub mod replies;
pub mod settings;
pub mod stats;
pub mod users;
pub mod warnings;

pub use crate::service::{all_regions, region_in_scope, region_param};
