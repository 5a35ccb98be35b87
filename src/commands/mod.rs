//! One module per subcommand.

pub mod approvals;
pub mod check_config;
pub mod config_schema;
pub mod demo;
pub mod demo_traffic;
pub mod drift;
pub mod init;
pub mod jobs;
pub mod quality;
pub mod serve;
pub mod token;
pub mod traces;
pub mod train_demo;

use crate::config::ConfigError;

/// A failed command: configuration problems exit with status 2, anything else with 1.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad input that is not configuration (a data file, an argument): exit status 2.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A fresh random HS256 secret (32 bytes, hex).
/// Prints `text` for a terminal: text that agents, data or trainers wrote may hold escape
/// sequences that would clear the screen, rewrite earlier lines or set the window title.
pub fn print_safely(text: &str) {
    println!("{}", mlops_engine::untrusted::strip_controls(text));
}

pub fn new_secret() -> String {
    use rand::Rng as _;
    hex::encode(rand::rng().random::<[u8; 32]>())
}

/// Writes `contents` to `path`, readable by the owner only (it holds a secret).
pub fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
