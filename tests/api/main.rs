//! The one integration-test binary: the real application on port 0, against real PostgreSQL
//! (a schema of its own per app) and Redis (a key prefix of its own per app).

mod audit;
mod auth;
mod bounds;
mod browser;
mod calendar;
mod cli;
mod complaints;
mod console;
mod console_complaints;
mod console_imports;
mod console_merchants;
mod console_reports;
mod console_users;
mod errors;
mod evidence;
mod helpers;
mod imports;
mod merchants;
mod migrations;
mod objections;
mod openapi;
mod ops;
mod page_cache;
mod pages;
mod qrcodes;
mod records;
mod repairs;
mod replies;
mod rights;
mod schemathesis;
mod shop_page;
mod stats;
mod text_input;
mod users;
mod warnings;
