//! yidianyima — 一店一码 (one shop, one code): a market-supervision bureau's merchant credit
//! QR platform. See README.md for the architecture.

pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod demo;
pub mod demo_merchants;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod import;
pub mod jobs;
pub mod openapi;
pub mod pages;
pub mod photos;
pub mod qr;
pub mod routes;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
