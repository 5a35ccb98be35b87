//! `mlops-mcp init [PATH]`: a commented starter configuration with a fresh secret.

use std::process::ExitCode;

use crate::cli::InitArgs;
use crate::commands::{CommandError, new_secret, write_private};

const STARTER: &str = include_str!("starter.toml");

/// The starter file's text with `secret` filled in.
pub fn starter(secret: &str) -> String {
    STARTER.replace("@SECRET@", secret)
}

pub fn run(args: InitArgs) -> Result<ExitCode, CommandError> {
    if args.path.exists() && !args.force {
        return Err(anyhow::anyhow!(
            "{} already exists; pass --force to overwrite it",
            args.path.display()
        )
        .into());
    }
    write_private(&args.path, &starter(&new_secret()))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.path.display()))?;
    println!(
        "wrote {} (it contains a secret: keep it private)",
        args.path.display()
    );
    println!(
        "next: add [[models]], then `mlops-mcp check-config --config {}`",
        args.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
