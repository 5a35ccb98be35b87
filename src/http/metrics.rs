//! `/metrics`: Prometheus metrics, behind `metrics:read` on the main listener or open on
//! `http.metrics_bind`.

use serde_json::json;

use crate::app::App;
use crate::http::gate::Gate;

/// `/metrics` on the main listener: a bearer token with `metrics:read`, as `/mcp` would check
/// it (401 without a valid token, 403 without the scope; both traced).
pub async fn metrics_with_token(
    axum::extract::State(gate): axum::extract::State<Gate>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use mlops_auth::scopes::METRICS_READ;
    let started = std::time::Instant::now();
    let described = crate::http::gate::Described {
        method: "GET /metrics".into(),
        action: "metrics".into(),
        arguments: json!({}),
    };
    if let Some(refusal) = gate
        .address_limited(crate::http::gate::peer(&req), started, &described)
        .await
    {
        return refusal;
    }
    let token = crate::http::gate::bearer(&req).map(str::to_owned);
    let verdict = match &token {
        None => Err("no bearer token; send `Authorization: Bearer <token>`".to_owned()),
        Some(t) => gate
            .app
            .verifier()
            .verify(t)
            .await
            .map_err(|e| e.to_string()),
    };
    let principal = match verdict {
        Ok(p) => p,
        Err(reason) => {
            let why = format!("authentication failed: {reason}");
            gate.refuse(
                started,
                crate::http::gate::ANONYMOUS,
                &described,
                crate::metrics::Refusal::Auth,
                why,
            )
            .await;
            return gate.unauthorized(&reason, token.is_some());
        }
    };
    if !principal.has_scope(METRICS_READ) {
        let reason = format!(
            "scraping /metrics requires the scope `{METRICS_READ}`, which `{}` does not have",
            principal.subject
        );
        gate.refuse(
            started,
            &principal.subject,
            &described,
            crate::metrics::Refusal::Scope,
            reason.clone(),
        )
        .await;
        return gate.insufficient_scope(METRICS_READ, &reason);
    }
    metrics(gate.app).await
}

/// Prometheus metrics (OpenMetrics text); see `crate::metrics`.
pub async fn metrics(app: App) -> axum::response::Response {
    use axum::response::IntoResponse;
    match app.metrics().render(app.store()).await {
        Ok(text) => {
            tracing::debug!("metrics scraped");
            (
                [(http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
                text,
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics unavailable");
            (http::StatusCode::SERVICE_UNAVAILABLE, "metrics unavailable").into_response()
        }
    }
}
