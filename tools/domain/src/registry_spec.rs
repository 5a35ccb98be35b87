//! Where a model's versions and `champion` alias live besides the embedded store: `embedded`
//! (the store only, the default) or `mlflow` (an MLflow registry, mirrored).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `models[].registry` in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySpec {
    /// `embedded` or `mlflow`.
    #[serde(default)]
    pub backend: RegistryBackend,
    /// MLflow tracking server, e.g. `http://127.0.0.1:5000`. Credentials come from
    /// `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (basic) or `MLFLOW_TRACKING_TOKEN`
    /// (bearer), as for MLflow's own client.
    #[serde(default)]
    pub url: Option<String>,
    /// The registered model's name in MLflow (default: the model's name).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistryBackend {
    #[default]
    Embedded,
    Mlflow,
}

impl RegistrySpec {
    pub fn problems(&self, at: &str) -> Vec<String> {
        match (self.backend, &self.url) {
            (RegistryBackend::Mlflow, None) => vec![format!(
                "{at}.url: the mlflow registry needs the tracking server's URL"
            )],
            (RegistryBackend::Mlflow, Some(u))
                if !(u.starts_with("http://") || u.starts_with("https://")) =>
            {
                vec![format!("{at}.url = {u:?}: use an http:// or https:// URL")]
            }
            _ => Vec::new(),
        }
    }
}
