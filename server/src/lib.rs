//! The Weasel server: configuration, storage, HTTP wiring. `main` and the
//! integration tests both start the application through [`startup::Application`],
//! so the tests exercise exactly what runs in production.

pub mod auth;
pub mod config;
pub mod health;
pub mod history;
pub mod images;
pub mod locale;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod security;
pub mod solve;
pub mod spending;
pub mod startup;
pub mod storage;
pub mod telemetry;
