//! Benchmark (not a test): what authentication and rate limiting cost per request.
//!
//! Run with `cargo bench --bench auth`. Two in-process routers answer the same `tools/list`
//! POST: the real one (gate: per-address limit, token verification, body checks, scope check)
//! and the same MCP service with the principal injected for free. The difference of their
//! medians is the cost of the auth layer. Then the pieces alone: HS256 and RS256 verification
//! and a quota check. Target: auth + rate limiting < 20 µs per call at p50.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers outside #[test] functions: a failure stops the test where it happened"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::ConnectInfo;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mlops_auth::jwks::{JwksCache, KeySource};
use mlops_auth::{Principal, RateLimits, RateQuota, ToolClass, Verifier};
use mlops_mcp::app::App;
use mlops_mcp::config::Config;
use mlops_mcp::mcp::McpServer;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

const BIN: &str = env!("CARGO_BIN_EXE_mlops-mcp");
const CALLS: usize = 5000;
const RSA_A: &[u8] = include_bytes!("../auth/tests/keys/rsa-a.pem");

struct StaticKeys(JwkSet);

#[async_trait]
impl KeySource for StaticKeys {
    async fn fetch(&self) -> Result<JwkSet, String> {
        Ok(self.0.clone())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn row(name: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let p50 = percentile(&times, 0.5);
    println!(
        "| {name} | {} µs | {} µs | {} µs |",
        us(p50),
        us(percentile(&times, 0.9)),
        us(percentile(&times, 0.99))
    );
    p50
}

async fn time_router(router: &axum::Router, token: &str) -> Vec<Duration> {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let mut req = http::Request::post("/mcp")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        let started = Instant::now();
        let response = router.clone().oneshot(req).await.unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        times.push(started.elapsed());
        assert!(
            bytes.windows(11).any(|w| w == b"list_models"),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
    times
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new(BIN)
        .args(["demo", "--no-serve", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(ok.status.success());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Quotas raised so the run measures the checks, not refusals.
        let config_path = dir.path().join("mlops-mcp.toml");
        let mut text = std::fs::read_to_string(&config_path).unwrap();
        text.push_str("\n[limits]\nread_per_minute = 100000000\nread_burst = 10000000\nper_address_per_minute = 100000000\nper_address_burst = 10000000\n");
        std::fs::write(&config_path, text).unwrap();
        let config = Config::load(Some(&dir.path().join("mlops-mcp.toml"))).unwrap();
        let app = App::start(config).await.unwrap();
        let token = std::process::Command::new(BIN)
            .arg("--config")
            .arg(dir.path().join("mlops-mcp.toml"))
            .args(["token", "issue", "--sub", "bench", "--scopes", "agent"])
            .output()
            .unwrap();
        let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

        let ct = CancellationToken::new();
        let with_auth = mlops_mcp::transport::http::router(app.clone(), "http://127.0.0.1/mcp", &ct);
        let principal = Principal::new("bench", mlops_auth::scopes::AGENT_DEFAULT.iter().copied(), "bench");
        let factory_app = app.clone();
        let bare = axum::Router::new()
            .nest_service(
                "/mcp",
                StreamableHttpService::new(
                    move || Ok(McpServer::for_http(factory_app.clone())),
                    Arc::new(NeverSessionManager::default()),
                    // The same rmcp settings as the real router; only the gate is missing.
                    StreamableHttpServerConfig::default()
                        .with_legacy_session_mode(false)
                        .with_allowed_hosts(app.config().http.allowed_hosts.clone())
                        .with_allowed_origins(app.config().http.allowed_origins.clone())
                        .enforce_origin_validation()
                        .with_max_request_body_bytes(app.config().http.max_body_bytes),
                ),
            )
            .layer(axum::Extension(principal))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                http::StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(120),
            ));

        println!("mlops-mcp auth benchmark ({CALLS} sequential in-process calls each, tools/list)");
        println!();
        println!("| measure | p50 | p90 | p99 |");
        println!("|---|---|---|---|");
        // Warm up both paths once.
        let _ = time_router(&bare, &token).await;
        let _ = time_router(&with_auth, &token).await;
        row("tools/list, full stack without the auth layer (principal injected)", time_router(&bare, &token).await);
        row("tools/list, full stack with the auth layer (HS256 token)", time_router(&with_auth, &token).await);

        // The gate alone: the same middleware in front of a handler that does nothing.
        let gate_state = mlops_mcp::http::gate::Gate { app: app.clone(), metadata_url: "http://127.0.0.1/x".into() };
        let noop = || axum::Router::new().route("/mcp", axum::routing::post(|| async { "list_models" }));
        let gated = noop().layer(axum::middleware::from_fn_with_state(gate_state, mlops_mcp::http::gate::gate));
        let _ = time_router(&gated, &token).await;
        let bare_p50 = row("no-op handler without the auth layer", time_router(&noop(), &token).await);
        let auth_p50 = row("no-op handler with the auth layer (HS256 token)", time_router(&gated, &token).await);

        let verifier = Verifier::new("mlops-mcp", "mlops-mcp", 0);
        let keys = app.verifier();
        let times: Vec<Duration> = {
            let mut t = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                let s = Instant::now();
                keys.verify(&token).await.unwrap();
                t.push(s.elapsed());
            }
            t
        };
        row("HS256 token verification alone", times);

        let enc = EncodingKey::from_rsa_pem(RSA_A).unwrap();
        let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some("a".into());
        let jwks = JwksCache::new(Arc::new(StaticKeys(JwkSet { keys: vec![jwk] })), Duration::from_secs(60), Duration::from_secs(3600));
        let rs = verifier.with_jwks(jwks);
        let now = chrono::Utc::now().timestamp();
        let claims = mlops_auth::Claims {
            sub: "bench".into(),
            iss: "mlops-mcp".into(),
            aud: "mlops-mcp".into(),
            exp: now + 3600,
            iat: now,
            nbf: None,
            scope: "models:read".into(),
            models: None,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("a".into());
        let rs_token = jsonwebtoken::encode(&header, &claims, &enc).unwrap();
        let mut t = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let s = Instant::now();
            rs.verify(&rs_token).await.unwrap();
            t.push(s.elapsed());
        }
        row("RS256 (JWKS, cached key) token verification alone", t);

        let limits = RateLimits::new(RateQuota { per_minute: u32::MAX, burst: 1_000_000 }, RateQuota { per_minute: 10, burst: 3 });
        let mut t = Vec::with_capacity(CALLS);
        for i in 0..CALLS {
            let subject = format!("p{}", i % 64);
            let s = Instant::now();
            limits.check(&subject, ToolClass::Read).unwrap();
            t.push(s.elapsed());
        }
        row("quota check alone (64 principals)", t);
        println!();
        println!(
            "auth layer cost at p50 (with − without): {} µs (target < 20 µs)",
            us(auth_p50.saturating_sub(bare_p50))
        );
    });
}
