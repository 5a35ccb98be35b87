//! The closed loop, as an agent would run it, against a running server (e.g. `cargo run -- demo`):
//! check drift → retrain → validate → request promotion → wait for a human to decide on the
//! approval page or with `mlops-mcp approvals approve ID` → print the trace of every step.
//!
//! ```sh
//! cargo run -- demo                                   # terminal 1: prints a token
//! MLOPS_MCP_TOKEN=<token> cargo run --example closed_loop [-- http://127.0.0.1:8080/mcp]
//! ```
//!
//! It uses rmcp's client over streamable HTTP and sends one trace id with every call
//! (`_meta["io.mlops-mcp/traceId"]`), so the server keeps the whole loop in one trace.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams, RequestMetaObject};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const MODEL: &str = "fraud-detector";

type Client = RunningService<RoleClient, ()>;

async fn call(
    client: &Client,
    trace: &str,
    name: &'static str,
    args: Value,
) -> Result<Value, String> {
    let mut params = CallToolRequestParams::new(name);
    params.arguments = args.as_object().cloned();
    let mut meta = RequestMetaObject::new();
    meta.0.insert("io.mlops-mcp/traceId".into(), json!(trace));
    params.meta = Some(meta);
    let result = client
        .call_tool(params)
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    if result.is_error == Some(true) {
        let text: Vec<String> = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect();
        return Err(format!("{name} refused: {}", text.join(" ")));
    }
    result
        .structured_content
        .ok_or_else(|| format!("{name}: no structured result"))
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080/mcp".into());
    let token = std::env::var("MLOPS_MCP_TOKEN")
        .map_err(|_| "set MLOPS_MCP_TOKEN to the token `mlops-mcp demo` printed".to_owned())?;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url.as_str()).auth_header(token),
    );
    let client = ().serve(transport).await.map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let trace = uuid::Uuid::new_v4().to_string();
    println!("trace {trace}\n");

    let drift = call(&client, &trace, "check_drift", json!({"model": MODEL})).await?;
    println!(
        "1. check_drift: {}",
        drift["reasons"][0].as_str().unwrap_or_default()
    );
    if drift["recommended_action"] != "retrain" {
        println!(
            "   recommended action is {}; nothing to do",
            drift["recommended_action"]
        );
        return Ok(());
    }

    let triggered = call(
        &client,
        &trace,
        "trigger_retrain",
        json!({"model": MODEL, "reason": drift["reasons"][0], "drift_report_id": drift["report_id"]}),
    )
    .await?;
    let job_id = triggered["job"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!(
        "2. trigger_retrain: job {job_id} (created: {})",
        triggered["created"]
    );
    let job = loop {
        let job = call(
            &client,
            &trace,
            "get_job",
            json!({"job_id": job_id, "wait_seconds": 60}),
        )
        .await?;
        if job["state"] != "pending" && job["state"] != "running" {
            break job;
        }
    };
    println!(
        "3. get_job: {} → version {}",
        job["state"], job["produced_version"]
    );
    if job["state"] != "succeeded" {
        return Err(format!("the job did not succeed: {}", job["message"]));
    }

    let validation = call(&client, &trace, "get_validation", json!({"job_id": job_id})).await?;
    println!(
        "4. get_validation: {}\n\n{}",
        validation["verdict"],
        validation["report"].as_str().unwrap_or_default()
    );
    if validation["verdict"] != "passed" {
        return Ok(());
    }

    let request = call(
        &client,
        &trace,
        "request_promotion",
        json!({
            "model": MODEL,
            "candidate_version": validation["candidate_version"],
            "validation_id": validation["id"],
            "justification": validation["reasons"][0],
        }),
    )
    .await?;
    let request_id = request["id"].as_str().unwrap_or_default().to_owned();
    println!(
        "5. request_promotion: {} — a human decides now:\n   open {}\n   or run: mlops-mcp approvals approve {request_id}   (with a token that has promotion:approve)\n",
        request["state"], request["approval_url"]
    );
    let decided = loop {
        let p = call(
            &client,
            &trace,
            "get_promotion",
            json!({"request_id": request_id}),
        )
        .await?;
        if p["state"] != "pending_approval" && p["state"] != "promoting" {
            break p;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    println!(
        "6. get_promotion: {} by {} {}",
        decided["state"],
        decided["decided_by"],
        decided["failure_reason"]
            .as_str()
            .or(decided["decision_note"].as_str())
            .unwrap_or_default()
    );

    let trace_view = client
        .read_resource(ReadResourceRequestParams::new(format!(
            "mlops://traces/{trace}"
        )))
        .await
        .map_err(|e| format!("reading the trace: {e}"))?;
    if let Some(text) = trace_view.contents.first().and_then(|c| match c {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => Some(text.clone()),
        _ => None,
    }) {
        println!("\n{text}");
    }
    client.cancel().await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("closed_loop: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
