//! The real binary over streamable HTTP: rmcp's client with a valid token (legacy and
//! 2026-07-28), and raw requests for every way authentication can fail — each refused with 401,
//! nothing executed, the refusal traced.

use crate::common;

use base64::Engine as _;
use common::{HttpServer, Workspace, call, post, read};
use mlops_engine::trace::Outcome;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

fn transport(server: &HttpServer, token: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.as_str()).auth_header(token),
    )
}

#[tokio::test]
async fn valid_token_works_for_legacy_and_modern_clients() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let token = ws.token("agent-http", "agent");

    let legacy = ().serve(transport(&server, &token)).await.unwrap();
    assert_eq!(
        legacy.peer_info().map(|i| i.protocol_version.clone()),
        Some(ProtocolVersion::V_2025_11_25)
    );
    let result = legacy
        .call_tool(CallToolRequestParams::new("list_models"))
        .await
        .unwrap();
    assert_eq!(
        result.structured_content.unwrap()["models"][0]["name"],
        "fraud-detector"
    );
    legacy.cancel().await.unwrap();

    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let modern = ().serve_with_lifecycle(transport(&server, &token), mode).await.unwrap();
    assert_eq!(
        modern.peer_info().map(|i| i.protocol_version.clone()),
        Some(ProtocolVersion::V_2026_07_28)
    );
    let tools = modern.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .any(|t| t.name == "list_models" && t.output_schema.is_some())
    );
    let result = modern
        .call_tool(CallToolRequestParams::new("list_models"))
        .await
        .unwrap();
    assert_eq!(
        result.structured_content.unwrap()["models"][0]["champion"],
        "v1"
    );
    modern.cancel().await.unwrap();

    let events = ws.traces().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.principal == "agent-http" && e.outcome == Outcome::Ok)
            .count(),
        2
    );
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401_and_traced() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let keys = ws.keys();
    let other_secret = mlops_auth::Hs256Keys::new(
        secrecy::SecretString::from("an-entirely-different-secret-of-32+bytes".to_owned()),
        "mlops-mcp",
        "mlops-mcp",
        0,
    );
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = chrono::Utc::now().timestamp() + 3600;
    let alg_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(
            r#"{{"sub":"eve","iss":"mlops-mcp","aud":"mlops-mcp","exp":{exp},"iat":0,"scope":"models:read"}}"#
        ))
    );
    let mut wrong_audience = ws.claims("mallory", "models:read", 3600);
    wrong_audience.aud = "another-server".into();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no-token", None),
        ("not-bearer", Some(format!("Basic {}", b64("user:pass")))),
        ("garbage", Some("Bearer not.a.jwt".into())),
        (
            "other-secret",
            Some(format!(
                "Bearer {}",
                other_secret
                    .sign(&ws.claims("mallory", "models:read", 3600))
                    .unwrap()
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                keys.sign(&ws.claims("bob", "models:read", -3600)).unwrap()
            )),
        ),
        ("alg-none", Some(format!("Bearer {alg_none}"))),
        (
            "wrong-audience",
            Some(format!("Bearer {}", keys.sign(&wrong_audience).unwrap())),
        ),
    ];
    for (case, auth) in &cases {
        let (status, headers, body) = post(
            &server,
            auth.as_deref(),
            &call("list_models", json!({"name_contains": case})),
        )
        .await;
        assert_eq!(status, 401, "{case}: {body}");
        let challenge = headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
        assert_eq!(body["error"], "invalid_token", "{case}");
    }
    // Nothing ran for any of them, and each refusal is in the trace, in order, with its reason
    // and a bounded summary of the request instead of its arguments.
    let events = ws.traces().await;
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.principal == "anonymous" && e.action == "list_models")
        .collect();
    assert_eq!(refused.len(), cases.len(), "{refused:?}");
    for ((case, _), e) in cases.iter().zip(&refused) {
        assert_eq!(e.outcome, Outcome::Refused, "{case}");
        assert!(!e.arguments.contains(case), "{case}: {}", e.arguments);
        let summary: Value = serde_json::from_str(&e.arguments).unwrap();
        assert_eq!(summary["method"], "tools/call", "{case}");
        assert_eq!(summary["address"], "127.0.0.1", "{case}");
        assert!(summary["body_bytes"].as_u64().unwrap() > 0, "{case}");
        assert!(
            e.rationale.starts_with("authentication failed"),
            "{case}: {}",
            e.rationale
        );
    }
    let reason = |case: &str| {
        let i = cases.iter().position(|(c, _)| *c == case).unwrap();
        refused[i].rationale.clone()
    };
    assert!(reason("expired").contains("expired"));
    assert!(reason("alg-none").contains("algorithm"));
    assert!(reason("other-secret").contains("signature"));
    assert!(reason("wrong-audience").contains("audience"));
    assert!(events.iter().all(|e| e.outcome != Outcome::Ok));
}

#[tokio::test]
async fn missing_scope_hides_the_tool_and_refuses_the_call() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let token = ws.token("narrow", "drift:read");
    let client = ().serve(transport(&server, &token)).await.unwrap();
    // Only the tool its scope allows is listed.
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["check_drift", "check_performance"]);
    // Over HTTP the refusal is a 403 insufficient_scope challenge, which rmcp's client parses.
    let refused = client
        .call_tool(CallToolRequestParams::new("list_models"))
        .await
        .unwrap_err();
    let text = format!("{refused:?}");
    assert!(
        text.contains("InsufficientScope")
            && text.contains("required_scope: Some(\"models:read\")"),
        "{text}"
    );
    client.cancel().await.unwrap();
    let events = ws.traces().await;
    assert!(events.iter().any(|e| e.principal == "narrow"
        && e.outcome == Outcome::Refused
        && e.rationale.contains("models:read")));
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_the_server_keeps_serving() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let auth = format!("Bearer {}", ws.token("agent", "agent"));
    let auth = Some(auth.as_str());

    let (status, _, body) = post(&server, auth, "{this is not json").await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(-32700))
    );

    let (status, _, body) = post(&server, auth, r#"{"id":1,"method":"tools/list"}"#).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(-32600))
    );

    let (_, _, body) = post(&server, auth, &call("drop_tables", json!({}))).await;
    assert_eq!(body["error"]["code"], -32602);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown tool `drop_tables`")
    );

    let (_, _, body) = post(&server, auth, &call("list_models", json!({"limit": 3}))).await;
    assert_eq!(body["result"]["isError"], true);
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("unknown field `limit`") && text.contains("name_contains (string, optional)"),
        "{text}"
    );

    let (_, _, body) = post(&server, auth, &read("mlops://models/ghost/card")).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{body}"
    );
    let (_, _, body) = post(&server, auth, &read("file:///etc/passwd")).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown resource URI"),
        "{body}"
    );

    // Still serving.
    let (status, _, body) = post(&server, auth, &call("list_models", json!({}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["structuredContent"]["models"][0]["name"],
        "fraud-detector"
    );

    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn host_and_origin_allow_lists_are_enforced() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let token = ws.token("agent", "agent");
    let send = |header: &'static str, value: &'static str| {
        reqwest::Client::new()
            .post(&server.url)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header(header, value)
            .body(call("list_models", json!({})))
            .send()
    };
    assert_eq!(
        send("origin", "https://evil.example")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(send("host", "evil.example").await.unwrap().status(), 403);
    assert_eq!(
        send("origin", "http://localhost:3000")
            .await
            .unwrap()
            .status(),
        200
    );
}
