//! The trustdesk server: configuration, start-up and the HTTP application.
//! `main.rs` is the command line around it; tests build the application
//! from here without a socket.

pub mod app;
pub mod audit;
pub mod config;
pub mod copy;
pub mod serve;
pub mod setup;
