//! The tool contract an agent follows, pinned by snapshots: the full `tools/list` (names,
//! descriptions, input and output schemas, annotations), the resource templates and the prompts,
//! as a full-scope caller sees them over stdio through rmcp's client. A change to any of them
//! fails here until the snapshot is reviewed and accepted (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test --test contract` and read the diff).

use crate::common;

use common::Workspace;
use rmcp::ServiceExt;
use rmcp::model::ListToolsResult;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::json;

/// Budget for `tools/list` as a full-scope caller sees it, in approximate tokens (bytes / 4).
const TOOLS_LIST_TOKEN_BUDGET: usize = 7_200;

async fn client(ws: &Workspace, scopes: &str) -> RunningService<RoleClient, ()> {
    let token = ws.token("contract", scopes);
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.arg("--config")
        .arg(&ws.config)
        .arg("serve")
        .env("MLOPS_MCP_TOKEN", token);
    ().serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn tools_resources_and_prompts_match_the_snapshots() {
    let ws = Workspace::demo();
    let client = client(&ws, "all").await;
    let tools = client.list_all_tools().await.unwrap();
    insta::assert_json_snapshot!("tools_list", tools);
    let templates = client.list_all_resource_templates().await.unwrap();
    insta::assert_json_snapshot!("resource_templates", templates);
    let prompts = client.list_all_prompts().await.unwrap();
    insta::assert_json_snapshot!("prompts", prompts);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn every_tool_declares_its_output_annotations_and_next_steps() {
    let ws = Workspace::demo();
    let client = client(&ws, "all").await;
    let tools = client.list_all_tools().await.unwrap();
    for tool in &tools {
        let name = &tool.name;
        let schema = tool
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no outputSchema"));
        assert_eq!(schema["type"], "object", "{name}");
        let a = tool
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no annotations"));
        let read_only = a
            .read_only_hint
            .unwrap_or_else(|| panic!("{name}: readOnlyHint"));
        assert!(
            a.destructive_hint.is_some() && a.idempotent_hint.is_some(),
            "{name}"
        );
        assert!(a.open_world_hint.is_some(), "{name}");
        // What a read-only tool must not be, and what the writing ones are.
        let writes = ["trigger_retrain", "request_promotion", "cancel_job"];
        assert_eq!(
            !read_only,
            writes.contains(&name.as_ref()),
            "{name}: readOnlyHint"
        );
        if read_only {
            assert_eq!(a.destructive_hint, Some(false), "{name}");
        }
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(description.len() >= 80, "{name}: say when to use it");
        assert!(
            tools
                .iter()
                .filter(|t| t.name != *name)
                .any(|t| description.contains(t.name.as_ref()))
                || description.contains("mlops://")
                || description.contains("`next_step`"),
            "{name}: the description says what to do next (another tool, a resource, or the \
             result's `next_step`)"
        );
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn tools_list_for_a_full_scope_caller_stays_under_its_token_budget() {
    let ws = Workspace::demo();
    let client = client(&ws, "all").await;
    let tools = client.list_all_tools().await.unwrap();
    let bytes = serde_json::to_vec(&ListToolsResult::with_all_items(tools.clone()))
        .unwrap()
        .len();
    let tokens = bytes / 4;
    println!(
        "tools/list, full scope: {} tools, {bytes} bytes, ~{tokens} tokens (bytes / 4)",
        tools.len()
    );
    assert!(
        tokens < TOOLS_LIST_TOKEN_BUDGET,
        "tools/list is ~{tokens} tokens; the budget is {TOOLS_LIST_TOKEN_BUDGET}"
    );
    client.cancel().await.unwrap();
}

/// Every refusal names what the agent can do about it: the tool or argument to use instead, the
/// scope to ask for, the form a value must take.
#[tokio::test]
async fn refusals_say_what_to_do_next() {
    let ws = Workspace::demo();
    let cases: &[(&str, &str, serde_json::Value, &str)] = &[
        (
            "agent",
            "check_drift",
            json!({"model": "nope"}),
            "call list_models",
        ),
        (
            "agent",
            "trigger_retrain",
            json!({"model": "nope", "reason": "x"}),
            "call list_models",
        ),
        (
            "agent",
            "get_job",
            json!({"job_id": "nope"}),
            "trigger_retrain returns job ids",
        ),
        (
            "agent",
            "get_validation",
            json!({"job_id": "nope"}),
            "the job id trigger_retrain returned",
        ),
        (
            "agent",
            "get_validation",
            json!({}),
            "pass either job_id, or model and version",
        ),
        (
            "agent",
            "request_promotion",
            json!({"model": "fraud-detector", "candidate_version": "v9",
                   "validation_id": "nope", "justification": "x"}),
            "call get_validation",
        ),
        (
            "agent",
            "get_promotion",
            json!({"request_id": "nope"}),
            "request_promotion returns request ids",
        ),
        (
            "agent",
            "check_drift",
            json!({"model": "fraud-detector", "last": "soon"}),
            "such as \"24h\"",
        ),
        (
            "agent",
            "list_models",
            json!({"bogus": 1}),
            "Expected arguments: cursor",
        ),
        (
            "models:read",
            "check_drift",
            json!({"model": "fraud-detector"}),
            "ask an operator for a token with `drift:read`",
        ),
    ];
    for (scopes, tool, args, hint) in cases {
        let client = client(&ws, scopes).await;
        let mut call = rmcp::model::CallToolRequestParams::new(*tool);
        call.arguments = args.as_object().cloned();
        let result = client.call_tool(call).await.unwrap();
        assert_eq!(result.is_error, Some(true), "{tool} {args}: {result:?}");
        let text: String = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect();
        assert!(
            text.contains(hint),
            "{tool} {args}: {text:?} should say {hint:?}"
        );
        client.cancel().await.unwrap();
    }
}
