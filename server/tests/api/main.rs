//! The server's integration tests: one binary (one link of the whole
//! server), a module per area, typed helpers in [`common`].

mod common;

mod auth;
mod events;
mod history;
mod http;
mod images;
mod metrics;
mod oauth;
mod process;
mod solve;
mod storage;
