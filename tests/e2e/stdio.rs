//! The real binary over stdio, driven by rmcp's own client: a legacy `initialize` client and a
//! `2026-07-28` (discover) client.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use common::Workspace;
use mlops_engine::trace::Outcome;
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, GetPromptRequestParams, ProtocolVersion, ReadResourceRequestParams,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

fn stdio_transport(ws: &Workspace, token: Option<&str>) -> TokioChildProcess {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.arg("--config")
        .arg(&ws.config)
        .arg("serve")
        .env_remove("MLOPS_MCP_TOKEN");
    if let Some(t) = token {
        cmd.env("MLOPS_MCP_TOKEN", t);
    }
    TokioChildProcess::new(cmd).unwrap()
}

async fn list_models(client: &RunningService<RoleClient, ()>) -> rmcp::model::CallToolResult {
    client
        .call_tool(CallToolRequestParams::new("list_models"))
        .await
        .unwrap()
}

async fn exercise(client: &RunningService<RoleClient, ()>) {
    let tools = client.list_all_tools().await.unwrap();
    let list = tools
        .iter()
        .find(|t| t.name == "list_models")
        .expect("list_models is listed");
    assert!(
        list.output_schema.is_some(),
        "list_models declares an outputSchema"
    );
    assert_eq!(
        list.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );

    let result = list_models(client).await;
    assert_ne!(result.is_error, Some(true));
    let structured = result.structured_content.expect("structured content");
    assert_eq!(structured["models"][0]["name"], "fraud-detector");
    assert_eq!(structured["models"][0]["champion"], "v1");
    assert_eq!(structured["summary"]["total_models"], 1);
    let trace_id = result
        .meta
        .as_ref()
        .and_then(|m| m.get("io.mlops-mcp/traceId"))
        .and_then(Value::as_str);
    assert!(trace_id.is_some(), "the trace id comes back in _meta");

    let card = client
        .read_resource(ReadResourceRequestParams::new(
            "mlops://models/fraud-detector/card",
        ))
        .await
        .unwrap();
    let texts: Vec<String> = card
        .contents
        .iter()
        .map(|c| match c {
            rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(texts[0].starts_with("# Model card: fraud-detector"));
    assert!(texts[0].contains("## Approval history"));
    let json: Value = serde_json::from_str(&texts[1]).unwrap();
    assert_eq!(json["champion"], "v1");
    assert_eq!(json["features"].as_array().map(Vec::len), Some(7));

    let trace = client
        .read_resource(ReadResourceRequestParams::new(format!(
            "mlops://traces/{}",
            trace_id.unwrap()
        )))
        .await
        .unwrap();
    assert_eq!(trace.contents.len(), 2);

    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(
        prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["monitor_model", "triage_fleet"]
    );
    let mut args = serde_json::Map::new();
    args.insert("model".into(), json!("fraud-detector"));
    let prompt = client
        .get_prompt(GetPromptRequestParams::new("monitor_model").with_arguments(args))
        .await
        .unwrap();
    let text = serde_json::to_string(&prompt.messages).unwrap();
    assert!(text.contains("check_drift") && text.contains("request_promotion"));
}

#[tokio::test]
async fn legacy_initialize_client_works_over_stdio() {
    let ws = Workspace::demo();
    let client = ().serve(stdio_transport(&ws, None)).await.unwrap();
    let version = client.peer_info().map(|i| i.protocol_version.clone());
    assert_eq!(version, Some(ProtocolVersion::V_2025_11_25));
    exercise(&client).await;
    client.cancel().await.unwrap();

    // The local principal's calls are traced.
    let events = ws.traces().await;
    assert!(
        events.iter().any(|e| e.principal == "local"
            && e.action == "list_models"
            && e.outcome == Outcome::Ok)
    );
}

#[tokio::test]
async fn modern_discover_client_works_over_stdio() {
    let ws = Workspace::demo();
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = ().serve_with_lifecycle(stdio_transport(&ws, None), mode).await.unwrap();
    let version = client.peer_info().map(|i| i.protocol_version.clone());
    assert_eq!(version, Some(ProtocolVersion::V_2026_07_28));
    exercise(&client).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stdio_token_sets_the_principal_and_its_scopes() {
    let ws = Workspace::demo();
    // A token without models:read: list_models is hidden, and calling it is refused and traced.
    let token = ws.token("drift-only-agent", "drift:read");
    let client = ().serve(stdio_transport(&ws, Some(&token))).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().all(|t| t.name != "list_models"));
    let refused = list_models(&client).await;
    assert_eq!(refused.is_error, Some(true));
    let message = serde_json::to_string(&refused.content).unwrap();
    assert!(message.contains("models:read"), "{message}");
    client.cancel().await.unwrap();
    let events = ws.traces().await;
    let event = events
        .iter()
        .find(|e| e.principal == "drift-only-agent")
        .expect("refusal traced");
    assert_eq!(
        (event.action.as_str(), event.outcome),
        ("list_models", Outcome::Refused)
    );
    assert!(event.rationale.contains("models:read"));
}

#[test]
fn malformed_lines_get_errors_and_the_session_goes_on() {
    let ws = Workspace::demo();
    let mut child = ws
        .command()
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |line: &str| {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    };
    let mut read = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap()
    };
    send("{oops");
    assert_eq!(read()["error"]["code"], -32700);
    send(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#,
    );
    assert_eq!(read()["id"], 1);
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send(r#"{"no":"jsonrpc"}"#);
    assert_eq!(read()["error"]["code"], -32600);
    send(
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"drop_tables","arguments":{}}}"#,
    );
    let unknown = read();
    assert_eq!(unknown["error"]["code"], -32602);
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("drop_tables")
    );
    send(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_models","arguments":{"name_contains":7}}}"#,
    );
    let bad_arg = read();
    assert_eq!(bad_arg["result"]["isError"], true);
    assert!(
        bad_arg["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("name_contains")
    );
    send(
        r#"{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"mlops://models/ghost/card"}}"#,
    );
    let missing = read();
    assert!(
        missing["error"]["code"] == -32002 || missing["error"]["code"] == -32602,
        "{missing}"
    );
    send(
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"list_models","arguments":{}}}"#,
    );
    let ok = read();
    assert_eq!(ok["id"], 5);
    assert_eq!(
        ok["result"]["structuredContent"]["models"][0]["name"],
        "fraud-detector"
    );
    drop(stdin);
    assert!(
        child.wait().unwrap().success(),
        "end of input ends the server cleanly"
    );
}

#[tokio::test]
async fn approval_is_never_granted_over_stdio() {
    let ws = Workspace::demo();
    let config = mlops_mcp::config::Config::load(Some(&ws.config)).unwrap();
    let app = mlops_mcp::app::App::start(config).await.unwrap();
    // The local principal: configured scopes, never promotion:approve.
    let local = app.stdio_principal(None).await.unwrap();
    assert_eq!(local.subject, "local");
    assert!(local.has_scope("retrain:trigger") && !local.has_scope("promotion:approve"));
    // Even a token that carries promotion:approve loses it over stdio.
    let approver = ws.token("approver", "all");
    let p = app.stdio_principal(Some(&approver)).await.unwrap();
    assert_eq!(p.subject, "approver");
    assert!(p.has_scope("models:read") && !p.has_scope("promotion:approve"));
    // A bad token in MLOPS_MCP_TOKEN is an error, not a silent fallback to `local`.
    assert!(app.stdio_principal(Some("not-a-token")).await.is_err());
}
