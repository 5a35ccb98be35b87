//! mlops-mcp: a Model Context Protocol server that lets AI agents operate production ML models
//! safely. This crate is the MCP surface and the wiring: CLI, configuration, the rmcp handler,
//! the stdio and streamable HTTP transports.

pub(crate) mod alerting;
pub mod app;
pub(crate) mod authorization_server;
pub mod cli;
pub(crate) mod commands;
pub mod config;
pub(crate) mod decisions;
pub mod http;
pub(crate) mod jsonrpc;
pub mod mcp;
pub mod metrics;
pub(crate) mod notify;
pub(crate) mod refusal_sampler;
pub(crate) mod retention;
pub mod transport;

use std::process::ExitCode;

use cli::{Cli, Command};

/// Exit status for a configuration or usage problem the user must fix.
pub const EXIT_CONFIG: u8 = 2;

/// Runs the command line; the binary's `main` is only this call.
pub fn main(cli: Cli) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let config_path = cli.config.clone();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(config_path, args).await,
        Command::Init(args) => commands::init::run(args),
        Command::CheckConfig(args) => {
            commands::check_config::run(config_path, args.model.as_deref()).await
        }
        Command::ConfigSchema => commands::config_schema::run(),
        Command::Token(cmd) => commands::token::run(config_path, cmd),
        Command::Demo(args) => commands::demo::run(args).await,
        Command::Traces(cmd) => commands::traces::run(config_path, cmd).await,
        Command::Jobs(cmd) => commands::jobs::run(config_path, cmd).await,
        Command::Approvals(args) => commands::approvals::run(config_path, args).await,
        Command::Drift(args) => commands::drift::run(args),
        Command::Quality(args) => commands::quality::run(&args),
        Command::TrainDemo => commands::train_demo::run(),
    };
    match result {
        Ok(code) => code,
        Err(commands::CommandError::Config(e)) => {
            eprintln!("configuration error: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        // Errors may quote stored text (a subject, a note): no terminal escapes reach stderr.
        Err(commands::CommandError::Input(e)) => {
            eprintln!("error: {}", mlops_engine::untrusted::strip_controls(&e));
            ExitCode::from(EXIT_CONFIG)
        }
        Err(commands::CommandError::Other(e)) => {
            eprintln!(
                "error: {}",
                mlops_engine::untrusted::strip_controls(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr only: in stdio mode stdout carries nothing but protocol messages.
/// `MLOPS_MCP_LOG` filters (default `info,rmcp=warn`: rmcp logs every stateless HTTP request's
/// service start and end at `info`); `MLOPS_MCP_LOG_FORMAT=json` writes one JSON object per line
/// (for a log shipper) instead of text.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MLOPS_MCP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let json = std::env::var("MLOPS_MCP_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
