//! Streamable HTTP: the MCP endpoint at `/mcp` behind bearer authentication, and `/healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;

use crate::app::App;
use crate::mcp::McpServer;

/// The HTTP application. `shutdown` ends in-flight MCP streams when cancelled.
pub fn router(app: App, shutdown: &CancellationToken) -> Router {
    let cfg = &app.config().http;
    let mcp_config = StreamableHttpServerConfig::default()
        // Stateless: any replica can answer any request, legacy `initialize` clients included.
        .with_legacy_session_mode(false)
        .with_allowed_hosts(cfg.allowed_hosts.clone())
        .with_allowed_origins(cfg.allowed_origins.clone())
        // An empty origin list must not mean "no check".
        .enforce_origin_validation()
        .with_max_request_body_bytes(cfg.max_body_bytes)
        .with_cancellation_token(shutdown.child_token());
    let factory_app = app.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(McpServer::for_http(factory_app.clone())),
        Arc::new(NeverSessionManager::default()),
        mcp_config,
    );
    let timeout = Duration::from_secs(cfg.request_timeout_secs);
    let limit = cfg.max_body_bytes;
    // Layers run bottom-up: authenticate first, then check the JSON-RPC text, then rmcp.
    let protected = Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(move |req, next| {
            super::guard::check_jsonrpc(limit, req, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            super::auth::authenticate,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(protected)
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
}

/// Binds `addr` and serves until SIGINT/SIGTERM. Prints the bound address to stderr once
/// ready (`listening on http://ADDR/mcp`), which is what tests and scripts wait for.
pub async fn serve(app: App, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let router = router(app, &shutdown);
    eprintln!("listening on http://{local}/mcp");
    tracing::info!(%local, "serving MCP over streamable HTTP at /mcp");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            super::shutdown_signal().await;
            shutdown.cancel();
        })
        .await?;
    Ok(())
}
