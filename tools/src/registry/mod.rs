//! Where model versions and the `champion` alias live besides the embedded store: per model,
//! `embedded` (the store only, the default) or `mlflow` (an MLflow registry, mirrored: the store
//! keeps the evidence and the history, MLflow serves the alias to deployments).

pub mod mlflow;

use std::collections::HashMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use mlflow::MlflowRegistry;

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

/// The MLflow registries of the models that use one. Cheap to clone.
#[derive(Clone, Default)]
pub struct Registries {
    mlflow: Arc<HashMap<String, Arc<MlflowRegistry>>>,
}

impl Registries {
    /// From the models' specs (models without `registry`, or `embedded`, have none).
    pub fn new(models: &[crate::ModelSpec]) -> Self {
        let map = models
            .iter()
            .filter_map(|m| {
                let spec = m.registry.as_ref()?;
                if spec.backend != RegistryBackend::Mlflow {
                    return None;
                }
                let url = spec.url.clone()?;
                let name = spec.name.clone().unwrap_or_else(|| m.name.clone());
                Some((
                    m.name.clone(),
                    Arc::new(MlflowRegistry::from_env(&url, &name)),
                ))
            })
            .collect();
        Self {
            mlflow: Arc::new(map),
        }
    }

    /// The MLflow registry of `model`, if it has one.
    pub fn mlflow(&self, model: &str) -> Option<&MlflowRegistry> {
        self.mlflow.get(model).map(Arc::as_ref)
    }
}
