use std::process::ExitCode;

use clap::Parser;

// mimalloc: under load glibc's malloc spent a third of the server's CPU (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    mlops_mcp::main(mlops_mcp::cli::Cli::parse())
}
