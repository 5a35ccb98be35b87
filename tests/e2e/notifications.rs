//! Job notifications through rmcp's own client: a `2026-07-28` client over streamable HTTP
//! subscribes to `mlops://jobs/{id}` with `subscriptions/listen` and gets progress notifications
//! while `get_job` waits; a legacy stdio client uses `resources/subscribe`.

use crate::common;

use std::time::Duration;

use common::{HttpServer, Workspace};
use rmcp::model::{
    CallToolRequestParams, NumberOrString, ProgressNotificationParam, ProgressToken,
    ProtocolVersion, RequestMetaObject, ResourceUpdatedNotificationParam, ServerNotification,
    SubscribeRequestParams, SubscriptionFilter,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, NotificationContext, RoleClient};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Forwards progress and resource-updated notifications to a channel.
#[derive(Clone)]
struct Collector(mpsc::UnboundedSender<String>);

impl ClientHandler for Collector {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(format!(
            "progress {:?} {}",
            params.progress_token.0,
            params.message.unwrap_or_default()
        ));
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(format!("updated {}", params.uri));
    }
}

/// A demo workspace whose trainer waits for a file before it writes its results.
fn gated_workspace() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::demo();
    let gate = common::gate(&ws);
    ws.edit_retrain(|r| {
        r.insert(
            "command".into(),
            toml::Value::Array(vec![
                "sh".into(),
                "-c".into(),
                format!(
                    "read _ < {}; \
                     echo '{{\"roc_auc\": 0.9}}' > \"$MLOPS_OUTPUT_DIR/metrics.json\"; \
                     echo w > \"$MLOPS_OUTPUT_DIR/model.bin\"",
                    gate.display()
                )
                .into(),
            ]),
        );
    });
    (ws, gate)
}

fn args(value: Value) -> Option<rmcp::model::JsonObject> {
    value.as_object().cloned()
}

#[tokio::test]
async fn http_listen_and_progress_follow_a_job_to_its_end() {
    let (ws, gate) = gated_workspace();
    let server = HttpServer::start(&ws);
    let token = ws.token("watcher", "agent");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.as_str()).auth_header(&token),
    );
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = Collector(tx)
        .serve_with_lifecycle(transport, mode)
        .await
        .unwrap();

    let mut trigger = CallToolRequestParams::new("trigger_retrain");
    trigger.arguments = args(json!({"model": "fraud-detector", "reason": "notification test"}));
    let out = client.call_tool(trigger).await.unwrap();
    let id = out.structured_content.unwrap()["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("mlops://jobs/{id}");

    // Only job URIs are accepted.
    let filter = SubscriptionFilter::builder()
        .resource_subscriptions(vec![uri.clone(), "mlops://models".to_owned()])
        .build();
    let mut subscription = client.peer().listen(filter).await.unwrap();
    assert_eq!(
        subscription.acknowledged().resource_subscriptions,
        Some(vec![uri.clone()])
    );

    // get_job waits with a progress token while the trainer is released.
    let mut wait = CallToolRequestParams::new("get_job");
    wait.arguments = args(json!({"job_id": id, "wait_seconds": 30}));
    wait.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::String("job-progress".into()),
    )));
    let peer = client.peer().clone();
    let waiting = tokio::spawn(async move { peer.call_tool(wait).await });
    // get_job reports where the job stands as its wait begins; only then is the trainer let go.
    let first = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(first.starts_with("progress"), "{first}");
    common::open_gate(&gate).await;
    let result = waiting.await.unwrap().unwrap();
    let view = result.structured_content.unwrap();
    assert_eq!(view["state"], "succeeded", "{view}");

    // The subscription saw the job change.
    let notification = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match notification {
        ServerNotification::ResourceUpdatedNotification(n) => assert_eq!(n.params.uri, uri),
        other => panic!("{other:?}"),
    }
    // And the waiting call reported progress under its token (rmcp's client substitutes its
    // own token for the request and routes the notifications back to it).
    // The client's handler may see them just after the call returns: wait for the one that
    // reports the end.
    let mut seen = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(n) = rx.recv().await {
            if n.starts_with("progress") && n.contains("succeeded") {
                return true;
            }
            seen.push(n);
        }
        false
    })
    .await;
    assert_eq!(ended.ok(), Some(true), "{seen:?}");
    drop(subscription);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stdio_clients_subscribe_to_a_job() {
    let (ws, gate) = gated_workspace();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.arg("--config")
        .arg(&ws.config)
        .arg("serve")
        .env_remove("MLOPS_MCP_TOKEN");
    let client = Collector(tx)
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .unwrap();
    let mut trigger = CallToolRequestParams::new("trigger_retrain");
    trigger.arguments = args(json!({"model": "fraud-detector", "reason": "stdio subscription"}));
    let out = client.call_tool(trigger).await.unwrap();
    let id = out.structured_content.unwrap()["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = format!("mlops://jobs/{id}");
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    common::open_gate(&gate).await;
    let expected = format!("updated {uri}");
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let n = rx.recv().await.unwrap();
            if n == expected {
                return n;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got, expected);
    #[allow(deprecated)]
    let refused = client
        .subscribe(SubscribeRequestParams::new("mlops://models".to_owned()))
        .await;
    assert!(refused.is_err());
    client.cancel().await.unwrap();
}

/// A listen stream watches at most 100 URIs and ends when the token it was opened with expires.
#[tokio::test]
async fn a_listen_stream_is_capped_and_ends_with_its_token() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let token = ws
        .keys()
        .sign(&ws.claims("short-lived", "models:read", 3))
        .unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.as_str()).auth_header(&token),
    );
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = Collector(tx)
        .serve_with_lifecycle(transport, mode)
        .await
        .unwrap();
    let uris: Vec<String> = (0..150)
        .map(|i| format!("mlops://jobs/00000000-0000-4000-8000-{i:012}"))
        .collect();
    let filter = SubscriptionFilter::builder()
        .resource_subscriptions(uris)
        .build();
    let started = std::time::Instant::now();
    let mut subscription = client.peer().listen(filter).await.unwrap();
    let accepted = subscription.acknowledged().resource_subscriptions.clone();
    assert_eq!(accepted.map(|u| u.len()), Some(100));
    // Nothing changes; the stream ends by itself once the token has expired.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = subscription.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its token");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
