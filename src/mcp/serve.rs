//! The handler served over a transport: the streamable-HTTP service the HTTP router mounts at
//! `/mcp`, and a session over a pair of byte streams for stdio. The transports themselves
//! (listener, line filter, writer) know nothing of rmcp.

use std::sync::Arc;

use axum::Router;
use mlops_auth::Principal;
use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::McpServer;
use crate::app::App;

/// A router with the MCP endpoint at `/mcp`: stateless, so any replica can answer any request.
pub fn http_router(app: &App, shutdown: &CancellationToken) -> Router {
    let cfg = &app.config().http;
    let config = StreamableHttpServerConfig::default()
        // Stateless: any replica can answer any request, legacy `initialize` clients included.
        .with_legacy_session_mode(false)
        // A call that only answers gets one `application/json` body; one that sends progress or
        // other messages first (get_job waiting) is streamed as SSE, as the spec allows.
        .with_json_response(true)
        .with_allowed_hosts(cfg.allowed_hosts.clone())
        .with_allowed_origins(cfg.allowed_origins.clone())
        // An empty origin list must not mean "no check".
        .enforce_origin_validation()
        .with_max_request_body_bytes(cfg.max_body_bytes)
        .with_cancellation_token(shutdown.child_token());
    let factory_app = app.clone();
    let service = StreamableHttpService::new(
        move || Ok(McpServer::for_http(factory_app.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new().nest_service("/mcp", service)
}

/// Serves one stdio session for `principal` on `input`/`output` until the client goes away.
pub async fn stdio_session(
    app: App,
    principal: Principal,
    input: impl AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
) -> anyhow::Result<()> {
    let running = McpServer::for_stdio(app, principal)
        .serve((input, output))
        .await?;
    running.waiting().await?;
    Ok(())
}
