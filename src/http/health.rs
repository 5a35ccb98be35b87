//! `/readyz`: whether this replica can serve (`/healthz` only says the process is up).

use crate::app::App;

/// 200 `ready` when the store answers and has every migration; 503 `not ready` otherwise (a
/// load balancer stops sending requests to this replica until it is ready again). The reason
/// goes to the log only: the caller is anonymous, and it may name hosts or paths.
pub async fn readyz(app: App) -> axum::response::Response {
    use axum::response::IntoResponse;
    match app.store().ready().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (http::StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
        }
    }
}
