//! `mlops-mcp token issue`

use std::path::PathBuf;
use std::process::ExitCode;

use mlops_auth::{Claims, Hs256Keys, scopes};

use crate::cli::TokenCommand;
use crate::commands::CommandError;
use crate::config::{Config, ConfigError};

/// Expands `agent` and `all`, and refuses unknown scopes.
pub fn expand_scopes(requested: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for s in requested.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let expanded: Vec<&str> = match s {
            "agent" => scopes::AGENT_DEFAULT.to_vec(),
            "all" => scopes::ALL.to_vec(),
            known if scopes::ALL.contains(&known) => vec![known],
            unknown => {
                return Err(ConfigError::Invalid(vec![format!(
                    "--scopes: unknown scope {unknown:?}; known: {}, or `agent`, `all`",
                    scopes::ALL.join(", ")
                )]));
            }
        };
        for e in expanded {
            if !out.iter().any(|o| o == e) {
                out.push(e.to_owned());
            }
        }
    }
    Ok(out)
}

pub fn run(config_path: Option<PathBuf>, cmd: TokenCommand) -> Result<ExitCode, CommandError> {
    let TokenCommand::Issue {
        sub,
        scopes,
        ttl,
        models,
    } = cmd;
    let config = Config::load(config_path.as_deref())?;
    let secret = config.require_secret()?.clone();
    let ttl = humantime::parse_duration(&ttl).map_err(|e| {
        ConfigError::Invalid(vec![format!("--ttl {ttl:?}: {e}; use e.g. 30m, 8h, 7d")])
    })?;
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    if sub.trim().is_empty() {
        return Err(ConfigError::Invalid(vec!["--sub is empty: name the principal".into()]).into());
    }
    if sub.trim() != sub || mlops_auth::normalise_subject(&sub) != sub {
        return Err(ConfigError::Invalid(vec![format!(
            "--sub {sub:?} has surrounding whitespace or is not in Unicode NFC; \
             write it as {:?}",
            mlops_auth::normalise_subject(&sub)
        )])
        .into());
    }
    let max = config.auth.max_token_lifetime_secs;
    if u64::try_from(ttl).is_ok_and(|t| t > max) {
        return Err(ConfigError::Invalid(vec![format!(
            "--ttl is longer than auth.max_token_lifetime_secs ({max} s); the server would refuse \
             the token"
        )])
        .into());
    }
    let scopes = expand_scopes(&scopes)?;
    let keys = Hs256Keys::new(
        secret,
        &config.auth.issuer,
        &config.auth.audience,
        config.auth.leeway_secs,
    );
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub,
        iss: config.auth.issuer.clone(),
        aud: config.auth.audience.clone(),
        exp: now.saturating_add(ttl),
        iat: now,
        nbf: Some(now),
        scope: scopes.join(" "),
        models,
    };
    let token = keys
        .sign(&claims)
        .map_err(|e| anyhow::anyhow!("cannot sign the token: {e}"))?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
