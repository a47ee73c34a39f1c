//! The use cases, one function each: caller + typed input → policy → domain → db (with audit,
//! one transaction) → cache invalidation → typed result. Every front end calls these; none
//! calls another front end. Moved here so far: merchant create and update, and the merchant
//! views they answer with.

pub mod account;
pub mod auth;
pub mod dashboard;
pub mod merchants;
pub mod sessions;
