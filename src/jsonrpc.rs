//! Early checks of incoming JSON-RPC text, so a malformed message gets a JSON-RPC error
//! (`-32700` parse error, `-32600` invalid request) instead of being dropped or answered with a
//! bare HTTP error, and the transport keeps serving.

use serde_json::{Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;

/// A JSON-RPC error response for a message that could not be understood.
pub fn error_response(id: Value, code: i64, message: String) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// `Ok` if the parsed `msg` is one well-formed JSON-RPC message; otherwise the error response.
pub fn check_message(msg: &Value) -> Result<(), Value> {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let Some(obj) = msg.as_object() else {
        return Err(error_response(
            Value::Null,
            INVALID_REQUEST,
            "invalid request: a JSON-RPC message must be a JSON object".into(),
        ));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(error_response(
            id,
            INVALID_REQUEST,
            "invalid request: `jsonrpc` must be \"2.0\"".into(),
        ));
    }
    let is_call = obj.get("method").is_some_and(Value::is_string);
    let is_reply = obj.contains_key("result") || obj.contains_key("error");
    if !is_call && !is_reply {
        return Err(error_response(
            id,
            INVALID_REQUEST,
            "invalid request: a JSON-RPC message needs a string `method` (or is a response)".into(),
        ));
    }
    // JSON-RPC also allows positional (array) params; MCP never uses them.
    if let Some(params) = obj.get("params")
        && !(params.is_object() || params.is_null())
    {
        return Err(error_response(
            id,
            INVALID_REQUEST,
            "invalid request: MCP `params` must be an object".into(),
        ));
    }
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    check_params(method, obj.get("params")).map_err(|m| error_response(id, INVALID_PARAMS, m))
}

/// The shapes rmcp would otherwise answer with a misleading "method not found".
fn check_params(method: &str, params: Option<&Value>) -> Result<(), String> {
    let field = |name: &str| params.and_then(|p| p.get(name));
    let string_field = |name: &str| -> Result<(), String> {
        match field(name) {
            Some(Value::String(_)) => Ok(()),
            Some(_) => Err(format!(
                "invalid params: `{name}` of {method} must be a string"
            )),
            None => Err(format!("invalid params: {method} needs `params.{name}`")),
        }
    };
    let optional_object = |name: &str| -> Result<(), String> {
        match field(name) {
            None | Some(Value::Null | Value::Object(_)) => Ok(()),
            Some(_) => Err(format!(
                "invalid params: `{name}` of {method} must be an object"
            )),
        }
    };
    match method {
        "tools/call" => string_field("name").and_then(|()| optional_object("arguments")),
        "resources/read" => string_field("uri"),
        "prompts/get" => {
            string_field("name")?;
            optional_object("arguments")?;
            let values = field("arguments")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values());
            if values.into_iter().all(Value::is_string) {
                Ok(())
            } else {
                Err("invalid params: prompt arguments must be strings".into())
            }
        }
        _ => Ok(()),
    }
}

/// `Ok` if `text` is one well-formed JSON-RPC message; otherwise the error response to send.
pub fn check(text: &[u8]) -> Result<(), Value> {
    check_message(&parse(text)?)
}

/// Parses a message, or gives the parse-error response to send.
pub fn parse(text: &[u8]) -> Result<Value, Value> {
    serde_json::from_slice(text).map_err(|e| {
        error_response(
            Value::Null,
            PARSE_ERROR,
            format!("parse error: the message is not valid JSON ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_messages() {
        assert!(check(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).is_ok());
        assert!(check(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_ok());
        assert!(check(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).is_ok());
        let code = |t: &[u8]| check(t).err().and_then(|e| e["error"]["code"].as_i64());
        assert_eq!(code(b"{not json"), Some(PARSE_ERROR));
        assert_eq!(code(b"[1,2]"), Some(INVALID_REQUEST));
        assert_eq!(code(br#"{"id":3,"method":"x"}"#), Some(INVALID_REQUEST));
        assert_eq!(code(br#"{"jsonrpc":"2.0","id":3}"#), Some(INVALID_REQUEST));
        assert_eq!(
            check(br#"{"jsonrpc":"1.0","id":3,"method":"x"}"#)
                .err()
                .map(|e| e["id"].clone()),
            Some(json!(3))
        );
    }
}
