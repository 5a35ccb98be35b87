//! Operations endpoints with the real binary: `/healthz`, `/readyz`, and `/metrics` scraped by a
//! real Prometheus (Debian's `prometheus`, started here on loopback with a 1 s scrape interval)
//! whose PromQL API then returns the tool-call and refusal counters.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{HttpServer, Workspace, tool};
use serde_json::{Value, json};

/// Kills Prometheus when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The samples of a PromQL instant query, or `None` if Prometheus did not answer.
async fn query(prometheus: &str, promql: &str) -> Option<Vec<Value>> {
    let body: Value = reqwest::Client::new()
        .post(format!("{prometheus}/api/v1/query"))
        .form(&[("query", promql)])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["data"]["result"].as_array().cloned()
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
    // /metrics on the main listener needs a token with metrics:read.
    let scrape = |token: Option<String>| {
        let mut request = reqwest::Client::new().get(format!("{}/metrics", server.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send()
    };
    let anonymous = scrape(None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("resource_metadata")
    );
    let agent = scrape(Some(ws.token("an-agent", "agent"))).await.unwrap();
    assert_eq!(agent.status(), 403);
    assert!(
        agent.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("metrics:read")
    );
    let traces = ws.traces().await;
    assert!(
        traces.iter().any(|e| e.action == "metrics"
            && e.principal == "an-agent"
            && e.outcome == mlops_engine::trace::Outcome::Refused),
        "{traces:?}"
    );
    let metrics = scrape(Some(ws.token("scraper", "metrics:read")))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = metrics.text().await.unwrap();
    // Read from the store at each scrape: the demo has no jobs and no pending approvals yet.
    assert!(text.contains(r#"mlops_jobs{state="running"} 0"#), "{text}");
    assert!(text.contains("mlops_pending_approvals 0"), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn prometheus_scrapes_the_tool_call_and_refusal_counters() {
    let Some(prometheus_bin) = common::service_url(
        "MLOPS_TEST_PROMETHEUS",
        ".ci/run installs Debian's prometheus",
    ) else {
        return;
    };
    let ws = Workspace::demo();
    let server = HttpServer::start_with(
        &ws,
        &[("MLOPS_MCP_LOG", "info,mlops_mcp::http::metrics=debug")],
    );
    let agent = ws.token("ops-agent", "agent");
    for _ in 0..3 {
        let listed = tool(&server, &agent, "list_models", json!({})).await;
        assert_eq!(listed["isError"], false, "{listed}");
    }
    // A caller without retrain:trigger is refused by scope.
    let reader = ws.token("reader", "models:read");
    let http = reqwest::Client::new();
    let refused = http
        .post(&server.url)
        .bearer_auth(&reader)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(common::call(
            "trigger_retrain",
            json!({"model": "fraud-detector", "reason": "x"}),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let dir = tempfile::tempdir().unwrap();
    let target = server.base.trim_start_matches("http://");
    let scraper = ws.token("prometheus", "metrics:read");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: mlops-mcp\n    authorization:\n      \
             credentials: '{scraper}'\n    static_configs:\n      \
             - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let _prometheus = Killed(
        Command::new(prometheus_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api = format!("http://127.0.0.1:{port}");

    // The server logs each scrape; after each one, ask Prometheus for the counter (it is
    // ingested just after the scrape, so the first query may come too early).
    let counter = r#"mlops_tool_calls_total{job="mlops-mcp",tool="list_models",outcome="ok"}"#;
    for scrape in 1..=10 {
        server.wait_for_log("metrics scraped", Duration::from_secs(60));
        let Some(samples) = query(&api, counter).await else {
            continue;
        };
        let Some(sample) = samples.first() else {
            continue;
        };
        let value: f64 = sample["value"][1].as_str().unwrap().parse().unwrap();
        assert_eq!(value, 3.0, "after scrape {scrape}: {sample}");
        let refusals = query(&api, r#"mlops_refusals_total{reason="scope"}"#)
            .await
            .unwrap();
        assert_eq!(refusals[0]["value"][1], "1", "{refusals:?}");
        let up = query(&api, r#"up{job="mlops-mcp"}"#).await.unwrap();
        assert_eq!(up[0]["value"][1], "1");
        return;
    }
    panic!("Prometheus never returned {counter}");
}

/// With `http.metrics_bind`, `/metrics` is served without a token there, and not at all on the
/// main listener; an anonymous `/readyz` learns only ready or not.
#[tokio::test]
async fn metrics_on_their_own_listener_and_a_terse_readyz() {
    let ws = Workspace::demo();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let server = HttpServer::start_with(&ws, &[("MLOPS_MCP_HTTP__METRICS_BIND", bind.as_str())]);
    let own = reqwest::get(format!("http://{bind}/metrics"))
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().ends_with("# EOF\n"));
    let main = reqwest::Client::new()
        .get(format!("{}/metrics", server.base))
        .bearer_auth(ws.token("scraper", "metrics:read"))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    drop(server);

    // The schema lacks this build's last migration: not ready, and the reason (which names
    // the migrations) is only in the log.
    let server = HttpServer::start(&ws);
    let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
        .await
        .unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.unwrap(), "not ready");
    server.wait_for_log("not ready", Duration::from_secs(10));
}
