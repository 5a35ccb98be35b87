//! Configuration: one TOML file, overridden by `MLOPS_MCP_*` environment variables
//! (`MLOPS_MCP_HTTP__BIND=127.0.0.1:9000` sets `http.bind`), then by command-line flags.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use mlops_engine::ModelSpec;
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::Deserialize;

mod auth;
mod held_secrets;
mod http;
mod jobs;
mod limits;
mod mlflow_import;
mod model_defaults;
mod monitors;
mod promotion;
mod store;
mod trace;

pub use self::{
    auth::*, http::*, jobs::*, limits::*, mlflow_import::MlflowImportConfig,
    model_defaults::ModelDefaults, monitors::*, promotion::*, store::*, trace::*,
};
pub use held_secrets::held;

/// File read when `--config` is not given and it exists.
pub const DEFAULT_FILE: &str = "mlops-mcp.toml";

/// Environment variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG", "TOKEN", "LOG"];

/// The whole configuration.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where state lives.
    #[serde(default)]
    pub store: StoreConfig,
    /// The streamable HTTP transport.
    #[serde(default)]
    pub http: HttpConfig,
    /// Bearer-token verification.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Who a stdio client is.
    #[serde(default)]
    pub stdio: StdioConfig,
    /// Rate limits and result size.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Retraining jobs: where local jobs keep their files, how many run at once.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// The human approval gate for promotions.
    #[serde(default)]
    pub promotion: PromotionConfig,
    /// The decision trace's chain key and checkpoints.
    #[serde(default)]
    pub trace: TraceConfig,
    /// The scheduler of the models' monitors.
    #[serde(default)]
    pub monitors: MonitorsConfig,
    /// Settings every model inherits (`{model}` in a string stands for its name).
    #[serde(default)]
    pub model_defaults: ModelDefaults,
    /// Models taken from an MLflow registry at start-up (see docs/fleet.md).
    #[serde(default)]
    pub mlflow_import: Option<MlflowImportConfig>,
    /// The models this server operates.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
    /// `[model_defaults]` as written, for models added after loading (the MLflow import).
    #[serde(skip)]
    #[schemars(skip)]
    pub defaults_document: serde_json::Value,
    /// Directory relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Config {
    /// The approval page's address.
    pub fn approval_page(&self) -> String {
        self.promotion
            .page_url
            .clone()
            .unwrap_or_else(|| format!("http://{}/approvals", self.http.bind))
    }

    /// Whether approvers reach this server over https (the page or resource URL says so).
    pub fn served_over_https(&self) -> bool {
        self.approval_page().starts_with("https://") || self.resource().starts_with("https://")
    }
}

/// A model's data and training paths resolved against `base`; `{mlops-mcp}` as a local
/// trainer's program is this executable.
pub(crate) fn resolve_model_paths(m: &mut ModelSpec, base: &Path) {
    let exe = std::env::current_exe().ok();
    let mut paths: Vec<&mut PathBuf> = [
        &mut m.reference_data,
        &mut m.current_data,
        &mut m.calibration_data,
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Some(r) = m.retrain.as_mut() {
        paths.extend(r.training_data.iter_mut());
        paths.extend(r.holdout_data.iter_mut());
        if let (Some(first), Some(exe)) = (r.command.first_mut(), &exe)
            && first == SELF_EXE
        {
            *first = exe.display().to_string();
        }
    }
    for p in paths {
        // An object-store URL (`s3://bucket/...`) is not a path.
        if p.is_relative() && !p.to_string_lossy().contains("://") {
            *p = base.join(&*p);
        }
    }
}

/// In `models[].retrain.command`, stands for this server's own executable (the demo trainer is
/// `["{mlops-mcp}", "train-demo"]`).
pub const SELF_EXE: &str = "{mlops-mcp}";

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Load { path: String, message: String },
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads `path` (or the default file, or built-in defaults), applies the environment, resolves
    /// relative paths and validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(ConfigError::Load {
                        path: p.display().to_string(),
                        message: "file not found (create one with `mlops-mcp init`)".into(),
                    });
                }
                Some(p.to_path_buf())
            }
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::new();
        if let Some(f) = &file {
            figment = figment.merge(Toml::file_exact(f));
        }
        // Configuration keys all live in a section, so their variables contain `__`; other
        // MLOPS_MCP_* variables are not configuration (and a likely typo is pointed out).
        for (name, _) in std::env::vars() {
            if let Some(key) = name.strip_prefix("MLOPS_MCP_")
                && !key.contains("__")
                && !NOT_KEYS.contains(&key)
            {
                eprintln!(
                    "warning: ignoring environment variable {name}: configuration variables look like \
                     MLOPS_MCP_<SECTION>__<KEY>, e.g. MLOPS_MCP_HTTP__BIND"
                );
            }
        }
        figment = figment.merge(
            Env::prefixed("MLOPS_MCP_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let shown = file
            .as_ref()
            .map_or("configuration".to_owned(), |f| f.display().to_string());
        let load = |e: figment::Error| ConfigError::Load {
            path: shown.clone(),
            message: e.to_string(),
        };
        // Models inherit `[model_defaults]` before they are read, so each is checked whole.
        let mut document: serde_json::Value = figment.extract().map_err(load)?;
        model_defaults::apply(&mut document);
        let defaults_document = model_defaults::of(&document);
        let mut config: Config = Figment::from(figment::providers::Serialized::defaults(document))
            .extract()
            .map_err(load)?;
        config.defaults_document = defaults_document;
        let base = file
            .as_ref()
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        config.base_dir = base;
        config.resolve_paths();
        let mut problems = config.problems();
        problems.extend(held_secrets::env_problems(&config));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn resolve_paths(&mut self) {
        let base = self.base_dir.clone();
        if let Some(path) = self.store.url.strip_prefix("sqlite://")
            && !path.starts_with(':')
            && Path::new(path).is_relative()
        {
            self.store.url = format!("sqlite://{}", base.join(path).display());
        }
        if let Some(dir) = &mut self.store.blocks
            && dir != "database"
            && Path::new(dir.as_str()).is_relative()
        {
            *dir = base.join(&*dir).display().to_string();
        }
        if self.jobs.dir.is_relative() {
            self.jobs.dir = base.join(&self.jobs.dir);
        }
        for p in [&mut self.trace.key_file, &mut self.trace.checkpoint_file] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for m in &mut self.models {
            resolve_model_paths(m, &base);
        }
    }

    /// Adds the models `[mlflow_import]` finds (nothing if it is not configured); the warnings
    /// name the registered models skipped and why. An unreachable registry is an error.
    pub async fn import_models(&mut self) -> Result<Vec<String>, ConfigError> {
        let Some(import) = self.mlflow_import.clone() else {
            return Ok(Vec::new());
        };
        let (models, warnings) = mlflow_import::import(
            &import,
            &self.base_dir,
            &self.defaults_document,
            &self.models,
        )
        .await
        .map_err(|e| ConfigError::Invalid(vec![e]))?;
        self.models.extend(models);
        Ok(warnings)
    }

    /// Every problem, each naming the field and what to do.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.store.problems());
        out.extend(self.http.problems());
        out.extend(self.auth.problems());
        out.extend(self.limits.problems());
        out.extend(self.promotion.problems());
        out.extend(self.jobs.problems());
        out.extend(self.stdio.problems());
        out.extend(self.monitors.problems());
        if let Some(i) = &self.mlflow_import {
            out.extend(i.problems());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, m) in self.models.iter().enumerate() {
            out.extend(m.problems(i));
            if !names.insert(m.name.as_str()) {
                out.push(format!("models[{i}].name = {:?}: declared twice", m.name));
            }
        }
        out
    }

    /// The canonical resource URL of this server.
    pub fn resource(&self) -> String {
        self.auth
            .resource
            .clone()
            .unwrap_or_else(|| format!("http://{}/mcp", self.http.bind))
    }

    /// HTTP needs some key material to verify tokens.
    pub fn require_token_keys(&self) -> Result<(), ConfigError> {
        if self.auth.hs256_secret.is_some() || self.auth.jwks_url.is_some() {
            return Ok(());
        }
        Err(ConfigError::Invalid(vec![
            "auth.hs256_secret and auth.jwks_url are both unset: HTTP needs one to verify bearer \
             tokens; set a secret (at least 32 random bytes, e.g. in MLOPS_MCP_AUTH__HS256_SECRET) \
             or the JWKS URL of your identity provider"
                .into(),
        ]))
    }

    /// The HS256 secret, or an error saying how to set one.
    pub fn require_secret(&self) -> Result<&SecretString, ConfigError> {
        self.auth.hs256_secret.as_ref().ok_or_else(|| {
            ConfigError::Invalid(vec![
                "auth.hs256_secret is not set: HTTP needs it to verify bearer tokens; set it in the \
                 file or in MLOPS_MCP_AUTH__HS256_SECRET (at least 32 random bytes)"
                    .into(),
            ])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::StoreConfig;

    #[test]
    fn a_store_password_is_never_displayed() {
        let shown = |url: &str| {
            StoreConfig {
                url: url.into(),
                blocks: None,
            }
            .display_url()
        };
        assert_eq!(
            shown("postgres://mlops:s3cret@db:5432/mlops"),
            "postgres://mlops:***@db:5432/mlops"
        );
        assert_eq!(
            shown("postgres://mlops@db/mlops"),
            "postgres://mlops@db/mlops"
        );
        assert_eq!(shown("sqlite:///var/lib/m.db"), "sqlite:///var/lib/m.db");
    }
}
