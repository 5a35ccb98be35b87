//! Soak: two replicas on one PostgreSQL under a steady request rate, loopback only. Every
//! request succeeds, every request is traced, the trace chain verifies afterwards, and neither
//! replica's resident memory grows past a stated bound after warm-up.
//!
//! `MLOPS_SOAK_SECS` sets the length (default 20 s; `.ci/run` runs 300 s). The rate is the
//! workload itself: requests are sent on a fixed schedule, nothing waits on a clock for a result.

use crate::common;

use std::time::Duration;

use common::{HttpServer, Workspace};
use serde_json::json;

/// Requests per second, over both replicas together.
const RATE: u64 = 40;
/// How much a replica's resident memory may grow from the end of warm-up to the end (KiB).
const RSS_GROWTH_BOUND_KIB: u64 = 32 * 1024;
/// How much resident memory a replica may use at any sample (KiB).
const RSS_BOUND_KIB: u64 = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_under_a_steady_rate_stay_correct_traced_and_bounded() {
    let Some(admin) = common::service_url(
        "MLOPS_TEST_POSTGRES",
        ".ci/run starts Debian's postgresql with tests/postgres/start.sh",
    ) else {
        return;
    };
    let secs: u64 = std::env::var("MLOPS_SOAK_SECS")
        .ok()
        .map(|s| s.parse().expect("MLOPS_SOAK_SECS is a number of seconds"))
        .unwrap_or(20);
    let ws = Workspace::demo_on_postgres(&admin).await;
    ws.edit_config(|t| {
        let mut limits = toml::Table::new();
        for key in ["read_per_minute", "high_privilege_per_minute"] {
            limits.insert(key.into(), 1_000_000.into());
        }
        for key in ["read_burst", "high_privilege_burst"] {
            limits.insert(key.into(), 100_000.into());
        }
        limits.insert("per_address_per_minute".into(), 1_000_000.into());
        limits.insert("per_address_burst".into(), 100_000.into());
        t.insert("limits".into(), limits.into());
    });
    let quiet = [("MLOPS_MCP_LOG", "warn")];
    let replicas = [
        HttpServer::start_with(&ws, &quiet),
        HttpServer::start_with(&ws, &quiet),
    ];
    let token = ws.token("soak-agent", "agent");
    // One client, as a fleet of agents behind one egress would use: connections are reused.
    let http = reqwest::Client::new();

    let total = secs * RATE;
    let warm_up = total / 10;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut in_flight = tokio::task::JoinSet::new();
    let mut baseline = [0u64; 2];
    let mut peak = [0u64; 2];
    for i in 0..total {
        tick.tick().await;
        if i == warm_up {
            baseline = [replicas[0].rss_kib(), replicas[1].rss_kib()];
        }
        if i % RATE == 0 {
            for (r, p) in replicas.iter().zip(peak.iter_mut()) {
                *p = (*p).max(r.rss_kib());
            }
        }
        let server = replicas[usize::try_from(i % 2).unwrap()].url.clone();
        let token = token.clone();
        let http = http.clone();
        // Mostly reads, with a drift check (on the cached reference) every tenth request.
        let (name, args) = if i % 10 == 5 {
            ("check_drift", json!({"model": "fraud-detector"}))
        } else {
            ("list_models", json!({}))
        };
        in_flight.spawn(async move { (name, call(&http, &server, &token, name, args).await) });
        // Collect what has finished, so failures surface early and memory stays flat here.
        while let Some(done) = in_flight.try_join_next() {
            let (name, result) = done.unwrap();
            assert_eq!(result["isError"], false, "{name}: {result}");
        }
    }
    while let Some(done) = in_flight.join_next().await {
        let (name, result) = done.unwrap();
        assert_eq!(result["isError"], false, "{name}: {result}");
    }
    let end = [replicas[0].rss_kib(), replicas[1].rss_kib()];
    for r in 0..2 {
        eprintln!(
            "replica {r}: RSS {} KiB after warm-up, {} KiB at the end, peak {} KiB",
            baseline[r], end[r], peak[r]
        );
        assert!(
            end[r] <= baseline[r] + RSS_GROWTH_BOUND_KIB,
            "replica {r} grew from {} to {} KiB",
            baseline[r],
            end[r]
        );
        assert!(
            peak[r].max(end[r]) <= RSS_BOUND_KIB,
            "replica {r} peaked at {} KiB",
            peak[r]
        );
    }
    drop(replicas);

    // Every request is in the trace, and the chain verifies.
    let traced = ws
        .traces()
        .await
        .iter()
        // Tool calls; the alert a drifted check opens is traced under the caller too.
        .filter(|e| e.principal == "soak-agent" && !e.action.starts_with("alert."))
        .count();
    assert_eq!(u64::try_from(traced).unwrap(), total);
    let verify = ws.command().args(["traces", "verify"]).output().unwrap();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{out}");
    eprintln!(
        "{total} requests in {secs} s over two replicas; {}",
        out.trim()
    );
}

/// One stateless tools/call (streamable HTTP, JSON or SSE answer), unwrapped to the result.
async fn call(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
    args: serde_json::Value,
) -> serde_json::Value {
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(common::call(name, args))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    serde_json::from_str::<serde_json::Value>(json).unwrap()["result"].clone()
}
