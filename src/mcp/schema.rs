//! Compacts the JSON Schemas schemars derives for the tools, so `tools/list` stays within its
//! token budget (BENCHMARKS.md) without losing anything a client validates or an agent reads:
//!
//! - dropped everywhere: `$schema` (MCP's default dialect is the same 2020-12), `title`, and
//!   Rust's numeric `format`s (`uint32`, `double`: not JSON Schema formats; `date-time` stays)
//!   with the `minimum: 0` that only restates an unsigned type;
//! - string enums written as `oneOf` of documented `const`s become one `enum`;
//! - in output schemas only: `default`s (meaningless for a result), and inside `$defs` (nested
//!   types) the prose and the `required` lists; the top-level fields keep their descriptions
//!   and `required`, and the tool's description says what the result means. A nested result
//!   type still carries every field it declares: only the list restating that is dropped.

use rmcp::model::JsonObject;
use serde_json::Value;

/// Rust-specific numeric formats schemars emits.
const NUMERIC_FORMATS: &[&str] = &[
    "int8", "int16", "int32", "int64", "int", "uint8", "uint16", "uint32", "uint64", "uint",
    "float", "double",
];

/// Which schema of a tool is being compacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Input,
    Output,
}

/// Compacts a tool's schema in place (see the module docs).
pub fn compact(schema: &mut JsonObject, role: Role) {
    schema.remove("$schema");
    compact_object(schema, role, false);
}

fn compact_object(object: &mut JsonObject, role: Role, nested: bool) {
    object.remove("title");
    if object
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| NUMERIC_FORMATS.contains(&f))
    {
        if object
            .get("format")
            .and_then(Value::as_str)
            .is_some_and(|f| f.starts_with('u'))
            && object.get("minimum").and_then(Value::as_u64) == Some(0)
        {
            object.remove("minimum");
        }
        object.remove("format");
    }
    if role == Role::Output {
        object.remove("default");
        if nested {
            object.remove("description");
            object.remove("required");
        }
    }
    if let Some(values) = string_enum(object) {
        object.remove("oneOf");
        object.insert("type".into(), "string".into());
        object.insert("enum".into(), Value::Array(values));
    }
    for (key, value) in object.iter_mut() {
        // Values, not schemas.
        if matches!(
            key.as_str(),
            "default" | "const" | "enum" | "examples" | "required"
        ) {
            continue;
        }
        // Inside `$defs`, and inside anything reached from there, everything is nested.
        let nested = nested || key == "$defs";
        match value {
            // `properties` and `$defs` map names to schemas; a property *named* `description`
            // or `default` is a schema, not a keyword.
            Value::Object(map) if key == "properties" || key == "$defs" => {
                for schema in map.values_mut() {
                    if let Value::Object(s) = schema {
                        compact_object(s, role, nested);
                    }
                }
            }
            Value::Object(map) => compact_object(map, role, nested),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(s) = item {
                        compact_object(s, role, nested);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The values of a `oneOf` made only of string `const`s and `enum`s.
fn string_enum(object: &JsonObject) -> Option<Vec<Value>> {
    let variants = object.get("oneOf")?.as_array()?;
    let mut values = Vec::new();
    for variant in variants {
        let variant = variant.as_object()?;
        if variant.get("type").and_then(Value::as_str) != Some("string") {
            return None;
        }
        match (variant.get("const"), variant.get("enum")) {
            (Some(c @ Value::String(_)), None) => values.push(c.clone()),
            (None, Some(Value::Array(e))) if e.iter().all(Value::is_string) => {
                values.extend(e.iter().cloned());
            }
            _ => return None,
        }
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> JsonObject {
        match v {
            Value::Object(o) => o,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn noise_goes_and_meaning_stays() {
        let mut s = object(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Out",
            "type": "object",
            "$defs": {"State": {"description": "A state.", "oneOf": [
                {"const": "a", "type": "string", "description": "first"},
                {"enum": ["b", "c"], "type": "string"}
            ]}, "Pair": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
            "properties": {
                "n": {"type": "integer", "format": "uint32", "minimum": 0, "description": "How many."},
                "x": {"type": "number", "format": "double", "minimum": 0.5},
                "at": {"type": "string", "format": "date-time"},
                "default": {"type": "boolean", "default": false},
                "state": {"$ref": "#/$defs/State"}
            },
            "required": ["n", "x", "at", "default", "state"]
        }));
        compact(&mut s, Role::Output);
        assert_eq!(
            Value::Object(s),
            json!({
                "type": "object",
                "$defs": {
                    "State": {"type": "string", "enum": ["a", "b", "c"]},
                    "Pair": {"type": "object", "properties": {"a": {"type": "integer"}}}
                },
                "properties": {
                    "n": {"type": "integer", "description": "How many."},
                    "x": {"type": "number", "minimum": 0.5},
                    "at": {"type": "string", "format": "date-time"},
                    "default": {"type": "boolean"},
                    "state": {"$ref": "#/$defs/State"}
                },
                "required": ["n", "x", "at", "default", "state"]
            })
        );
    }

    #[test]
    fn inputs_keep_their_prose_and_defaults() {
        let mut s = object(json!({
            "$defs": {"T": {"description": "A test.", "type": "string", "enum": ["ks"]}},
            "properties": {"k": {"type": "boolean", "default": true, "description": "Flag."}},
            "type": "object"
        }));
        let before = s.clone();
        compact(&mut s, Role::Input);
        assert_eq!(s, before);
    }

    #[test]
    fn mixed_one_of_is_left_alone() {
        let one_of = json!([{"const": "a", "type": "string"}, {"type": "integer"}]);
        let mut s = object(json!({"oneOf": one_of.clone()}));
        compact(&mut s, Role::Input);
        assert_eq!(s.get("oneOf"), Some(&one_of));
    }
}
