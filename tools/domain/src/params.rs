//! `models[].retrain.allowed_params`: which backend parameters a caller may pass, with their
//! type and, optionally, their range or values. A bare list of names allows a scalar (string of
//! at most 256 characters, number or boolean) under each name; a table declares each.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest string parameter unless a declaration says otherwise.
const DEFAULT_MAX_LENGTH: usize = 256;

/// The parameters a model's retraining accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AllowedParams {
    /// Names only: each takes a scalar.
    Names(Vec<String>),
    /// Each name with its declaration.
    Declared(BTreeMap<String, ParamSpec>),
}

impl Default for AllowedParams {
    fn default() -> Self {
        AllowedParams::Names(Vec::new())
    }
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
}

/// One parameter's declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Smallest value (integer, number).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest value (integer, number).
    #[serde(default)]
    pub max: Option<f64>,
    /// The only values accepted.
    #[serde(default)]
    pub values: Option<Vec<Value>>,
    /// Longest string, in characters (default 256).
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl AllowedParams {
    /// The names a caller may pass.
    pub fn names(&self) -> Vec<String> {
        match self {
            AllowedParams::Names(n) => n.clone(),
            AllowedParams::Declared(d) => d.keys().cloned().collect(),
        }
    }

    /// Whether nothing may be passed.
    pub fn is_empty(&self) -> bool {
        self.names().is_empty()
    }

    /// Why `params` cannot be passed, if they cannot: unknown names first, then the first value
    /// that is not what its declaration says.
    pub fn check(&self, params: &BTreeMap<String, Value>) -> Result<(), String> {
        let names = self.names();
        let unknown: Vec<&str> = params
            .keys()
            .filter(|k| !names.contains(k))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let allowed = if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            };
            return Err(format!(
                "parameters not allowed: {}; allowed: {allowed}",
                unknown.join(", ")
            ));
        }
        for (name, value) in params {
            let problem = match self {
                AllowedParams::Names(_) => scalar(value),
                AllowedParams::Declared(d) => d.get(name).and_then(|spec| spec.problem(value)),
            };
            if let Some(p) = problem {
                return Err(format!("parameter `{name}`: {p}"));
            }
        }
        Ok(())
    }

    /// Problems with the declarations themselves, for `check-config`.
    pub fn problems(&self, at: &str) -> Vec<String> {
        let AllowedParams::Declared(d) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, spec) in d {
            let numeric = matches!(spec.kind, ParamType::Integer | ParamType::Number);
            if !numeric && (spec.min.is_some() || spec.max.is_some()) {
                out.push(format!(
                    "{at}.allowed_params.{name}: min/max apply to integer and number"
                ));
            }
            if let (Some(lo), Some(hi)) = (spec.min, spec.max)
                && lo > hi
            {
                out.push(format!(
                    "{at}.allowed_params.{name}: min {lo} is above max {hi}"
                ));
            }
            for v in spec.values.iter().flatten() {
                if let Some(p) = spec.type_problem(v) {
                    out.push(format!("{at}.allowed_params.{name}: listed value {v}: {p}"));
                }
            }
        }
        out
    }
}

/// A bare name takes a string (of at most 256 characters), a number or a boolean.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Number(_) | Value::Bool(_) => None,
        Value::String(s) if s.chars().count() <= DEFAULT_MAX_LENGTH => None,
        Value::String(_) => Some(format!("longer than {DEFAULT_MAX_LENGTH} characters")),
        other => Some(format!(
            "{} is not a string, number or boolean",
            kind_of(other)
        )),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl ParamSpec {
    fn type_problem(&self, value: &Value) -> Option<String> {
        let ok = match self.kind {
            ParamType::String => value.is_string(),
            ParamType::Integer => value.is_i64() || value.is_u64(),
            ParamType::Number => value.is_number(),
            ParamType::Boolean => value.is_boolean(),
        };
        (!ok).then(|| {
            let wanted = match self.kind {
                ParamType::String => "a string",
                ParamType::Integer => "an integer",
                ParamType::Number => "a number",
                ParamType::Boolean => "a boolean",
            };
            format!("{} is not {wanted}", kind_of(value))
        })
    }

    fn problem(&self, value: &Value) -> Option<String> {
        if let Some(p) = self.type_problem(value) {
            return Some(p);
        }
        if let Some(values) = &self.values
            && !values.contains(value)
        {
            let listed: Vec<String> = values.iter().map(Value::to_string).collect();
            return Some(format!("{value} is not one of {}", listed.join(", ")));
        }
        if let Some(x) = value.as_f64() {
            if let Some(lo) = self.min
                && x < lo
            {
                return Some(format!("{x} is below the minimum {lo}"));
            }
            if let Some(hi) = self.max
                && x > hi
            {
                return Some(format!("{x} is above the maximum {hi}"));
            }
        }
        if let Some(s) = value.as_str() {
            let max = self.max_length.unwrap_or(DEFAULT_MAX_LENGTH);
            if s.chars().count() > max {
                return Some(format!("longer than {max} characters"));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn bare_names_take_scalars_only() {
        let allowed: AllowedParams = serde_json::from_value(json!(["epochs"])).unwrap();
        assert!(allowed.check(&params(json!({"epochs": 5}))).is_ok());
        assert!(allowed.check(&params(json!({"epochs": "5"}))).is_ok());
        let nested = allowed.check(&params(json!({"epochs": {"$where": "x"}})));
        assert!(nested.unwrap_err().contains("an object is not a string"));
        let long = allowed.check(&params(json!({"epochs": "x".repeat(300)})));
        assert!(long.unwrap_err().contains("longer than 256"));
        let unknown = allowed.check(&params(json!({"lr": 1})));
        assert!(
            unknown
                .unwrap_err()
                .contains("not allowed: lr; allowed: epochs")
        );
    }

    #[test]
    fn declared_parameters_have_types_ranges_and_values() {
        let allowed: AllowedParams = serde_json::from_value(json!({
            "epochs": {"type": "integer", "min": 1, "max": 50},
            "lr": {"type": "number", "min": 0.0001, "max": 1.0},
            "optimizer": {"type": "string", "values": ["adam", "sgd"]},
            "shuffle": {"type": "boolean"}
        }))
        .unwrap();
        assert!(allowed.problems("m").is_empty());
        let ok = params(json!({"epochs": 10, "lr": 0.01, "optimizer": "adam", "shuffle": true}));
        assert!(allowed.check(&ok).is_ok());
        for (bad, says) in [
            (json!({"epochs": 0}), "below the minimum 1"),
            (json!({"epochs": 51}), "above the maximum 50"),
            (json!({"epochs": 2.5}), "not an integer"),
            (json!({"epochs": "10"}), "a string is not an integer"),
            (json!({"lr": [0.1]}), "a list is not a number"),
            (
                json!({"optimizer": "rmsprop"}),
                "not one of \"adam\", \"sgd\"",
            ),
            (json!({"shuffle": "yes"}), "not a boolean"),
        ] {
            let e = allowed.check(&params(bad.clone())).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let wrong: AllowedParams = serde_json::from_value(json!({
            "epochs": {"type": "integer", "min": 9, "max": 1},
            "name": {"type": "string", "min": 1, "values": [3]}
        }))
        .unwrap();
        assert_eq!(wrong.problems("m").len(), 3, "{:?}", wrong.problems("m"));
    }
}
