//! `[model_defaults]`: settings every `[[models]]` entry inherits, key by key (a table merges
//! with the model's table of the same name; any other value is replaced by the model's own),
//! and `{model}` in any string of a model's settings, which stands for its name. A fleet then
//! declares each model in a few lines:
//!
//! ```toml
//! [model_defaults]
//! owner = "risk-team"
//! reference_data = "data/{model}/reference.parquet"
//! monitor = { every = "1h", last = "1h" }
//!
//! [[models]]
//! name = "churn-eu"
//! ```

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The placeholder for a model's name.
pub const MODEL: &str = "{model}";

/// Any key of a `[[models]]` entry but `name`, with the same meaning (the schema of each is in
/// `models`); merged into every model before it is read.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelDefaults {
    pub description: Option<String>,
    pub owner: Option<String>,
    pub task: Option<String>,
    pub tags: Option<Vec<String>>,
    pub intended_use: Option<String>,
    pub limitations: Option<Vec<String>>,
    pub label: Option<String>,
    pub features: Option<Vec<Value>>,
    pub reference_data: Option<String>,
    pub current_data: Option<String>,
    pub calibration_data: Option<String>,
    pub policy: Option<Map<String, Value>>,
    pub retrain: Option<Map<String, Value>>,
    pub registry: Option<Map<String, Value>>,
    pub monitor: Option<Map<String, Value>>,
}

/// `model` on top of `defaults`: tables merge key by key, the model's value wins otherwise.
fn merge(defaults: &Value, model: &Value) -> Value {
    match (defaults, model) {
        (Value::Object(d), Value::Object(m)) => {
            let mut out = d.clone();
            for (key, value) in m {
                let merged = match out.get(key) {
                    Some(base) => merge(base, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (_, m) => m.clone(),
    }
}

/// Every string in `value` with `{model}` replaced by `name`.
fn fill(value: &mut Value, name: &str) {
    match value {
        Value::String(s) if s.contains(MODEL) => *s = s.replace(MODEL, name),
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, name)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, name)),
        _ => {}
    }
}

/// `model` with `defaults` under it and `{model}` filled in with `name` (a valid model name).
pub fn effective(defaults: &Value, model: &Value, name: &str) -> Value {
    let mut merged = merge(defaults, model);
    fill(&mut merged, name);
    merged
}

/// The `[model_defaults]` of a configuration document (an empty table if none).
pub fn of(document: &Value) -> Value {
    document
        .get("model_defaults")
        .cloned()
        .unwrap_or(Value::Object(Map::new()))
}

/// The effective `[[models]]` entries of a whole configuration document: each merged onto
/// `model_defaults` (which stays in the document, for `check-config`) with its name filled in.
/// A model without a valid name is left as written; the configuration check names it.
pub fn apply(document: &mut Value) {
    let defaults = of(document);
    let Some(Value::Array(models)) = document.get_mut("models") else {
        return;
    };
    for model in models.iter_mut() {
        let Some(name) = model.get("name").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        if !mlops_engine::model::is_valid_name(&name) {
            continue;
        }
        *model = effective(&defaults, model, &name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_model_inherits_defaults_key_by_key_with_its_name_filled_in() {
        let mut doc = json!({
            "model_defaults": {
                "owner": "risk",
                "reference_data": "data/{model}/reference.parquet",
                "policy": {"drift_share": 0.3, "min_rows": 50},
                "monitor": {"every": "1h"},
                "tags": ["fleet"],
            },
            "models": [
                {"name": "churn-eu", "policy": {"min_rows": 500}, "tags": ["eu"]},
                {"name": "../etc", "reference_data": "x"},
                {"name": "plain", "owner": "me", "monitor": {"every": "5m", "last": "{model}"}},
            ],
        });
        apply(&mut doc);
        let m = &doc["models"];
        assert_eq!(m[0]["owner"], "risk");
        assert_eq!(m[0]["reference_data"], "data/churn-eu/reference.parquet");
        assert_eq!(m[0]["policy"], json!({"drift_share": 0.3, "min_rows": 500}));
        assert_eq!(m[0]["tags"], json!(["eu"]));
        assert_eq!(m[0]["monitor"], json!({"every": "1h"}));
        // An invalid name is not used in a path: the entry stays as written, and is refused.
        assert_eq!(m[1], json!({"name": "../etc", "reference_data": "x"}));
        assert_eq!(m[2]["owner"], "me");
        assert_eq!(m[2]["monitor"], json!({"every": "5m", "last": "plain"}));
    }
}
