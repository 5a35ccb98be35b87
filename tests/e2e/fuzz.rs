//! Property-based fuzzing of the server handler: arbitrary JSON-RPC messages, tool arguments,
//! resource URIs and raw garbage go to one live server (the real handler and input filter, over
//! an in-process pipe); the server must answer every request with a well-formed JSON-RPC
//! response carrying the request's id, and must never stop (a panic would close the pipe).
//! Case count: `PROPTEST_CASES` (default 256), so CI bounds the time.

use crate::common;

use std::time::Duration;

use common::Workspace;
use mlops_mcp::app::App;
use mlops_mcp::config::Config;
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "tools/list",
            "tools/call",
            "resources/read",
            "resources/list",
            "resources/templates/list",
            "prompts/list",
            "prompts/get",
            "ping",
            "completion/complete",
            "logging/setLevel",
            "initialize",
            "server/discover",
            "tasks/get",
            "subscriptions/listen",
        ])
        .prop_map(str::to_owned),
        "[a-z/_]{1,24}",
    ]
}

fn params() -> impl Strategy<Value = Value> {
    let tool = prop_oneof![
        prop::sample::select(vec![
            "list_models",
            "check_drift",
            "trigger_retrain",
            "request_promotion"
        ])
        .prop_map(str::to_owned),
        ".{0,20}",
    ];
    let uri = prop_oneof![
        prop::sample::select(vec![
            "mlops://models",
            "mlops://models/fraud-detector/card",
            "mlops://traces/x",
            "mlops://models/../card",
            "file:///etc/passwd",
        ])
        .prop_map(str::to_owned),
        ".{0,60}",
    ];
    prop_oneof![
        (tool, any_json())
            .prop_map(|(name, arguments)| json!({"name": name, "arguments": arguments})),
        uri.prop_map(|uri| json!({"uri": uri})),
        any_json(),
    ]
}

/// A line to send, and the id an answer must carry (`None` for garbage: any error answer).
fn message() -> impl Strategy<Value = (String, Option<Value>)> {
    let id = prop_oneof![
        any::<u32>().prop_map(|n| json!(n)),
        "[a-z0-9]{1,10}".prop_map(Value::String)
    ];
    prop_oneof![
        8 => (id, method(), params()).prop_map(|(id, method, params)| {
            let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            (msg.to_string(), Some(id))
        }),
        1 => "[^\r\n]{1,80}".prop_filter("not blank", |s| !s.trim().is_empty()).prop_map(|s| (s, None)),
    ]
}

#[test]
fn arbitrary_messages_always_get_well_formed_answers() {
    let ws = Workspace::demo();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (to_server, from_server) = runtime.block_on(async {
        let config = Config::load(Some(&ws.config)).unwrap();
        let app = App::start(config).await.unwrap();
        let principal = app.stdio_principal(None).await.unwrap();
        let (client_end, server_end) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_end);
        tokio::spawn(mlops_mcp::transport::stdio::serve_io(app, principal, server_read, server_write));
        let (client_read, mut client_write) = tokio::io::split(client_end);
        let mut lines = BufReader::new(client_read).lines();
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}});
        client_write.write_all(format!("{init}\n").as_bytes()).await.unwrap();
        let first = lines.next_line().await.unwrap().unwrap();
        assert!(first.contains("\"result\""), "{first}");
        client_write.write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n").await.unwrap();
        (client_write, lines)
    });

    let pipe = std::cell::RefCell::new((to_server, from_server));
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    runner
        .run(&message(), |(line, id)| {
            let mut pipe = pipe.borrow_mut();
            let (to_server, from_server) = &mut *pipe;
            let answer = runtime.block_on(async {
                to_server
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .unwrap();
                tokio::time::timeout(Duration::from_secs(10), from_server.next_line()).await
            });
            let answer = answer
                .expect("the server answers within 10 s")
                .expect("pipe readable")
                .expect("server alive");
            let reply: Value = serde_json::from_str(&answer).expect("every answer is JSON");
            prop_assert_eq!(&reply["jsonrpc"], "2.0");
            let has_result = reply.get("result").is_some();
            let has_error = reply.get("error").is_some();
            prop_assert!(
                has_result != has_error,
                "exactly one of result/error: {}",
                answer
            );
            if has_error {
                prop_assert!(reply["error"]["code"].is_i64(), "{}", answer);
                prop_assert!(reply["error"]["message"].is_string(), "{}", answer);
            }
            if let Some(id) = id {
                prop_assert_eq!(&reply["id"], &id, "answer to {}", line);
            } else {
                prop_assert!(has_error, "garbage gets an error: {}", answer);
            }
            Ok(())
        })
        .unwrap();
}
