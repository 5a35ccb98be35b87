use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    mlops_mcp::main(mlops_mcp::cli::Cli::parse())
}
