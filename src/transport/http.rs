//! Streamable HTTP: the MCP endpoint at `/mcp` behind the gate (rate limit, authentication,
//! scopes), row ingestion at `/v1/models/{model}/records`, the RFC 9728 protected-resource
//! metadata, and `/healthz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutLayer;

use super::connections::{AcceptBackoff, Activity};
use crate::app::App;
use crate::http::gate::{Gate, gate};
use crate::http::health::readyz;
use crate::http::metrics::{metrics, metrics_with_token};
use crate::http::{ingest, labels};

/// Path of the RFC 9728 metadata for a resource URL: `/.well-known/oauth-protected-resource`
/// followed by the resource's path.
fn metadata_path(resource: &str) -> String {
    let after_scheme = resource
        .split_once("://")
        .map_or(resource, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    format!(
        "/.well-known/oauth-protected-resource{}",
        path.trim_end_matches('/')
    )
}

fn metadata_url(resource: &str) -> String {
    let origin_end = resource
        .split_once("://")
        .map_or(resource.len(), |(scheme, rest)| {
            scheme.len() + 3 + rest.find('/').unwrap_or(rest.len())
        });
    format!("{}{}", &resource[..origin_end], metadata_path(resource))
}

/// The HTTP application. `resource` is this server's canonical URL; `shutdown` ends in-flight
/// MCP streams when cancelled.
pub fn router(app: App, resource: &str, shutdown: &CancellationToken) -> Router {
    let cfg = &app.config().http;
    let gate_state = Gate {
        app: app.clone(),
        metadata_url: metadata_url(resource).into(),
    };
    let ingest = Router::new()
        .route("/v1/models/{model}/records", post(ingest::ingest))
        .route("/v1/models/{model}/labels", post(labels::labels))
        .with_state(gate_state.clone());
    let protected = crate::mcp::http_router(&app, shutdown)
        .layer(axum::middleware::from_fn_with_state(gate_state, gate));

    let auth = &app.config().auth;
    let metadata = json!({
        "resource": resource,
        "authorization_servers": auth.authorization_servers,
        // What an agent's client may ask for: never promotion:approve (a human's, on its own
        // channel), data:write (pipelines) or metrics:read (scrapers).
        "scopes_supported": mlops_auth::scopes::AGENT_DEFAULT,
        "bearer_methods_supported": ["header"],
        "resource_name": "mlops-mcp",
    });
    let serve_metadata = move || {
        let metadata = metadata.clone();
        async move { axum::Json(metadata) }
    };
    let ready_app = app.clone();
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(move || readyz(ready_app.clone())));
    if cfg.metrics_bind.is_none() {
        router = router.route(
            "/metrics",
            get(metrics_with_token).with_state(Gate {
                app: app.clone(),
                metadata_url: metadata_url(resource).into(),
            }),
        );
    }
    router
        .route(
            "/.well-known/oauth-protected-resource",
            get(serve_metadata.clone()),
        )
        .route(&metadata_path(resource), get(serve_metadata))
        .merge(protected)
        .merge(ingest)
        .merge(crate::http::approvals::router(app.clone()))
        .layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(cfg.request_timeout_secs),
        ))
}

/// Binds `addr` (port 0: any free port); the listener's address is what the server will be
/// reached at, so the configuration's defaults derived from `http.bind` should use it.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serves on `listener` until SIGINT/SIGTERM. Prints the bound address to stderr once ready
/// (`listening on http://ADDR/mcp`), which is what tests and scripts wait for.
pub async fn serve(app: App, listener: TcpListener) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let resource = app
        .config()
        .auth
        .resource
        .clone()
        .unwrap_or_else(|| format!("http://{local}/mcp"));
    let header_timeout = Duration::from_secs(app.config().http.header_timeout_secs);
    if let Some(addr) = app.config().http.metrics_bind {
        let listener = bind(addr).await?;
        let metrics_app = app.clone();
        let router = Router::new().route("/metrics", get(move || metrics(metrics_app.clone())));
        tracing::info!(%addr, "serving /metrics without a token on its own listener");
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    let shutdown = CancellationToken::new();
    let http = &app.config().http;
    let idle_timeout = Duration::from_secs(http.idle_timeout_secs.max(1));
    let max_connections = http.max_connections.max(1);
    let router = router(app, &resource, &shutdown);

    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // HTTP/2: pings find dead peers; the idle watcher below closes live but silent ones.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(idle_timeout))
        .keep_alive_timeout(header_timeout);
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut backoff = AcceptBackoff::default();
    let signal = super::shutdown_signal();
    eprintln!("listening on http://{local}/mcp");
    tracing::info!(%local, %resource, "serving MCP over streamable HTTP at /mcp");

    tokio::pin!(signal);
    loop {
        // At the cap, wait for a connection to end before accepting another.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    backoff.succeeded();
                    conn
                }
                Err(error) => {
                    let wait = backoff.failed(&error);
                    tokio::select! {
                        () = tokio::time::sleep(wait) => continue,
                        () = &mut signal => break,
                    }
                }
            },
            () = &mut signal => break,
        };
        // Responses are written in several small pieces (headers, the SSE event, the end of the
        // chunked body); with Nagle's algorithm the last waits for the client's delayed ACK,
        // about 40 ms on Linux. Every answer would take that long.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not disable Nagle's algorithm");
        }
        // The peer address is the only key the per-address limit trusts (never a header).
        let activity = Activity::new();
        let touched = activity.clone();
        let service =
            router
                .clone()
                .map_request(move |req: http::Request<hyper::body::Incoming>| {
                    touched.touch();
                    let mut req = req.map(axum::body::Body::new);
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let stop = shutdown.child_token();
        tokio::spawn(async move {
            watch_connection(connection, &activity, idle_timeout, stop).await;
            drop(permit);
        });
    }
    shutdown.cancel();
    // Every connection holds a permit until it ends; wait for all of them to come back.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(Duration::from_secs(10), permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 10 s; closing");
    }
    Ok(())
}

/// Serves one connection until it ends. It is shut down gracefully (requests in flight finish;
/// HTTP/2 gets GOAWAY) when it has sent no request for `idle_timeout`, or when the server stops.
async fn watch_connection<C>(
    connection: C,
    activity: &Activity,
    idle_timeout: Duration,
    stop: CancellationToken,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(connection);
    let mut closing = false;
    let check = (idle_timeout / 4).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(error = %error, "connection ended with an error");
                }
                return;
            }
            () = stop.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep(check), if !closing => {
                if activity.idle_for() >= idle_timeout {
                    tracing::debug!("closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_locations_follow_rfc_9728() {
        assert_eq!(
            metadata_path("https://mlops.example.com/mcp"),
            "/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://mlops.example.com/mcp"),
            "https://mlops.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource"
        );
    }
}
