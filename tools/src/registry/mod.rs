//! Where model versions and the `champion` alias live besides the embedded store: per model,
//! `embedded` (the store only, the default) or `mlflow` (an MLflow registry, mirrored: the store
//! keeps the evidence and the history, MLflow serves the alias to deployments).

pub mod mlflow;

use std::collections::HashMap;
use std::sync::Arc;

pub use mlflow::MlflowRegistry;
pub use mlops_domain::registry_spec::{RegistryBackend, RegistrySpec};

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
