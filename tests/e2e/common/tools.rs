//! Typed tool calls over HTTP: each returns the tool's own output type, so a test reads fields
//! rather than JSON paths, and a renamed or retyped field breaks the build, not a probe.

use mlops_engine::check_drift::CheckDriftOutput;
use mlops_engine::get_job::JobView;
use mlops_engine::get_validation::ValidationView;
use mlops_engine::list_models::ListModelsOutput;
use mlops_engine::promotion_gate::PromotionView;
use mlops_engine::trigger_retrain::TriggerRetrainOutput;
use mlops_resources::ModelCard;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{HttpServer, tool};

/// A tool result that is not an error, as the tool's output type.
pub fn output<T: DeserializeOwned>(name: &str, result: &Value) -> T {
    assert_eq!(result["isError"], false, "{name}: {result}");
    serde_json::from_value(result["structuredContent"].clone()).unwrap_or_else(|e| {
        panic!("{name}'s structured content is not its output type: {e}\n{result}")
    })
}

/// The message of a tool result that is an error.
pub fn error_text(result: &Value) -> String {
    assert_eq!(result["isError"], true, "{result}");
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("an error result carries its message as text: {result}"))
        .to_owned()
}

/// Calls `name` and returns its output; fails the test if the call is refused or fails.
pub async fn call<T: DeserializeOwned>(
    server: &HttpServer,
    token: &str,
    name: &str,
    args: Value,
) -> T {
    output(name, &tool(server, token, name, args).await)
}

pub async fn list_models(server: &HttpServer, token: &str) -> ListModelsOutput {
    call(server, token, "list_models", json!({})).await
}

/// The JSON of `mlops://models/{model}/card`, as the resource's `application/json` content.
pub async fn model_card(server: &HttpServer, token: &str, model: &str) -> ModelCard {
    let uri = format!("mlops://models/{model}/card");
    let (_, _, body) =
        super::post(server, Some(&format!("Bearer {token}")), &super::read(&uri)).await;
    let json = body["result"]["contents"][1]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{uri} has a JSON content: {body}"));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{uri}: {e}\n{json}"))
}

pub async fn check_drift(server: &HttpServer, token: &str, args: Value) -> CheckDriftOutput {
    call(server, token, "check_drift", args).await
}

pub async fn trigger_retrain(
    server: &HttpServer,
    token: &str,
    args: Value,
) -> TriggerRetrainOutput {
    call(server, token, "trigger_retrain", args).await
}

pub async fn get_job(server: &HttpServer, token: &str, args: Value) -> JobView {
    call(server, token, "get_job", args).await
}

pub async fn get_validation(server: &HttpServer, token: &str, args: Value) -> ValidationView {
    call(server, token, "get_validation", args).await
}

pub async fn request_promotion(server: &HttpServer, token: &str, args: Value) -> PromotionView {
    call(server, token, "request_promotion", args).await
}

pub async fn get_promotion(server: &HttpServer, token: &str, args: Value) -> PromotionView {
    call(server, token, "get_promotion", args).await
}

/// Calls get_job with the longest wait until the job ends.
pub async fn wait_for_end(server: &HttpServer, token: &str, id: &str) -> JobView {
    for _ in 0..5 {
        let view = get_job(server, token, json!({"job_id": id, "wait_seconds": 60})).await;
        if !view.state.is_active() {
            return view;
        }
    }
    panic!("job {id} did not end");
}
