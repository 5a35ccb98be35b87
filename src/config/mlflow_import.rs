//! `[mlflow_import]`: models taken from an MLflow registry at start-up, besides the declared
//! ones. Every registered model tagged `<tag> = "true"` becomes a model of this server, with
//! `[model_defaults]` under it (features, policy, monitor …) and these tags of its own:
//!
//! | tag | becomes |
//! |---|---|
//! | `<tag>` = `true` | the model is imported |
//! | `<tag>.reference_data` | `reference_data`, a path relative to `data_root` |
//! | `<tag>.current_data` | `current_data`, a path relative to `data_root` |
//! | `<tag>.owner`, `<tag>.task`, `<tag>.description` | the same keys |
//!
//! Its registry is that MLflow server, under the registered model's name. A declared
//! `[[models]]` entry of the same name wins. The registry's text is untrusted: a name that is not
//! a valid model name, a path that is absolute or climbs out of `data_root`, or an entry that
//! fails the configuration check is skipped with a warning naming why.

use std::path::{Component, Path, PathBuf};

use mlops_engine::ModelSpec;
use mlops_engine::registry::mlflow::{MlflowRegistry, RegisteredModel};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Most registered models read from one server.
const MAX_REGISTERED: usize = 10_000;
/// Longest tag value taken.
const MAX_TAG_CHARS: usize = 1_000;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MlflowImportConfig {
    /// The MLflow tracking server, e.g. `http://127.0.0.1:5000`; credentials come from
    /// `MLFLOW_TRACKING_USERNAME`/`_PASSWORD` or `MLFLOW_TRACKING_TOKEN`.
    pub url: String,
    /// The tag that selects registered models (value `true`) and prefixes their settings.
    #[serde(default = "default_tag")]
    pub tag: String,
    /// The directory data paths in tags are relative to (relative to the config file).
    pub data_root: PathBuf,
}

fn default_tag() -> String {
    "mlops-mcp".into()
}

impl MlflowImportConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            out.push(format!(
                "mlflow_import.url = {:?}: use an http:// or https:// URL",
                self.url
            ));
        }
        if self.tag.is_empty() || self.tag.chars().any(|c| c.is_control() || c == '\'') {
            out.push(format!(
                "mlflow_import.tag = {:?}: use a non-empty tag key",
                self.tag
            ));
        }
        out
    }
}

/// A data path from a tag: relative, inside `root`, no `..`.
fn data_path(root: &Path, key: &str, value: &str) -> Result<String, String> {
    let rel = Path::new(value);
    let inside = !value.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(format!(
            "tag {key} = {value:?}: must be a relative path inside mlflow_import.data_root"
        ));
    }
    Ok(root.join(rel).display().to_string())
}

/// The `[[models]]` entry a registered model stands for: `None` if it is not tagged for import,
/// or why it is refused.
pub fn entry(
    model: &RegisteredModel,
    import: &MlflowImportConfig,
    root: &Path,
) -> Result<Option<Value>, String> {
    let tag = |suffix: &str| {
        let key = if suffix.is_empty() {
            import.tag.clone()
        } else {
            format!("{}.{suffix}", import.tag)
        };
        model.tags.get(&key).map(|v| (key, v.as_str()))
    };
    if tag("").is_none_or(|(_, v)| !v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    if !mlops_engine::model::is_valid_name(&model.name) {
        return Err(
            "the name is not a valid model name (1-128 letters, digits, '-', '_', '.')".into(),
        );
    }
    let mut out = Map::new();
    out.insert("name".into(), model.name.clone().into());
    for field in ["reference_data", "current_data"] {
        if let Some((key, value)) = tag(field) {
            out.insert(field.into(), data_path(root, &key, value)?.into());
        }
    }
    for field in ["owner", "task", "description"] {
        if let Some((key, value)) = tag(field) {
            if value.chars().count() > MAX_TAG_CHARS {
                return Err(format!(
                    "tag {key} is longer than {MAX_TAG_CHARS} characters"
                ));
            }
            out.insert(
                field.into(),
                mlops_engine::untrusted::strip_controls(value).into(),
            );
        }
    }
    out.insert(
        "registry".into(),
        json!({"backend": "mlflow", "url": import.url, "name": model.name}),
    );
    Ok(Some(Value::Object(out)))
}

/// The models `import` finds, each with `defaults` under it; warnings for the ones skipped.
pub async fn import(
    import: &MlflowImportConfig,
    base_dir: &Path,
    defaults: &Value,
    declared: &[ModelSpec],
) -> Result<(Vec<ModelSpec>, Vec<String>), String> {
    let registry = MlflowRegistry::from_env(&import.url, "");
    let registered = registry
        .registered_models(MAX_REGISTERED)
        .await
        .map_err(|e| format!("mlflow_import: {e} (fix the server or remove [mlflow_import])"))?;
    let root = base_dir.join(&import.data_root);
    let (mut models, mut warnings) = (Vec::new(), Vec::new());
    for m in &registered {
        let shown = mlops_engine::untrusted::strip_controls(&m.name);
        if declared.iter().any(|d| d.name == m.name) {
            continue;
        }
        let entry = match entry(m, import, &root) {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(why) => {
                warnings.push(format!("mlflow_import: skipped {shown:?}: {why}"));
                continue;
            }
        };
        let value = super::model_defaults::effective(defaults, &entry, &m.name);
        let mut spec: ModelSpec = match serde_json::from_value(value) {
            Ok(s) => s,
            Err(e) => {
                warnings.push(format!("mlflow_import: skipped {shown:?}: {e}"));
                continue;
            }
        };
        let problems = spec.problems(declared.len() + models.len());
        if !problems.is_empty() {
            warnings.push(format!(
                "mlflow_import: skipped {shown:?}: {}",
                problems.join("; ")
            ));
            continue;
        }
        super::resolve_model_paths(&mut spec, base_dir);
        models.push(spec);
    }
    Ok((models, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(name: &str, tags: &[(&str, &str)]) -> RegisteredModel {
        RegisteredModel {
            name: name.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn tags_become_an_entry_and_hostile_ones_are_refused() {
        let import = MlflowImportConfig {
            url: "http://mlflow".into(),
            tag: "mlops-mcp".into(),
            data_root: "data".into(),
        };
        let root = Path::new("/srv/data");
        let ok = registered(
            "churn",
            &[
                ("mlops-mcp", "true"),
                ("mlops-mcp.reference_data", "churn/ref.parquet"),
                ("mlops-mcp.owner", "growth\u{1b}[2J"),
            ],
        );
        let e = entry(&ok, &import, root).unwrap().unwrap();
        assert_eq!(e["reference_data"], "/srv/data/churn/ref.parquet");
        assert_eq!(e["owner"], "growth[2J");
        assert_eq!(e["registry"]["name"], "churn");
        assert_eq!(entry(&registered("x", &[]), &import, root), Ok(None));
        assert_eq!(
            entry(&registered("x", &[("mlops-mcp", "no")]), &import, root),
            Ok(None)
        );
        for bad in ["/etc/passwd", "../secrets.csv", "a/../../b", ""] {
            let m = registered(
                "x",
                &[("mlops-mcp", "true"), ("mlops-mcp.current_data", bad)],
            );
            assert!(
                entry(&m, &import, root).unwrap_err().contains("inside"),
                "{bad}"
            );
        }
        let m = registered("../x", &[("mlops-mcp", "true")]);
        assert!(
            entry(&m, &import, root)
                .unwrap_err()
                .contains("valid model name")
        );
    }
}
