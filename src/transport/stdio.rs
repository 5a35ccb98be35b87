//! MCP over stdio: what Claude Desktop and IDEs spawn. stdout carries protocol messages only.

use mlops_auth::Principal;
use rmcp::ServiceExt;

use crate::app::App;
use crate::mcp::McpServer;

/// Serves one client on stdin/stdout until it disconnects or a signal arrives.
pub async fn serve(app: App, principal: Principal) -> anyhow::Result<()> {
    tracing::info!(principal = %principal.subject, "serving MCP over stdio");
    let running = McpServer::for_stdio(app, principal).serve(rmcp::transport::stdio()).await?;
    let cancel = running.cancellation_token();
    tokio::select! {
        result = running.waiting() => { result?; }
        () = super::shutdown_signal() => { cancel.cancel(); }
    }
    Ok(())
}
