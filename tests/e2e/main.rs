//! End-to-end tests: the real binary (`env!("CARGO_BIN_EXE_mlops-mcp")`) or the whole server
//! in process, driven by rmcp's client, HTTP and the CLI, with real databases and services
//! where a test names one. One test binary, one module per subject; `common` has the typed
//! helpers (a tool call returns the tool's own output type).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

mod common;

mod airflow;
mod approvals_page;
mod attacks;
mod cli;
mod connections;
mod contract;
mod crash;
mod datasets;
mod drift;
mod fleet;
mod fuzz;
mod http;
mod jobs;
mod mlflow;
mod notifications;
mod operations;
mod promotion;
mod quality;
mod replicas;
mod retrain;
mod soak;
mod stdio;
mod webhooks;
