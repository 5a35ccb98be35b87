//! What the remote backends share: one HTTP client with timeouts, secrets from the environment,
//! and errors turned into messages a person can act on.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::backend::BackendError;

/// Longest a backend may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client whose requests give up after `timeout`.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .user_agent(concat!("mlops-mcp/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// The value of environment variable `var`, named by config field `field`.
pub fn env_secret(var: &str, field: &str) -> Result<String, BackendError> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            BackendError::Refused(format!(
                "the environment variable {var} ({field}) is not set on the server"
            ))
        })
}

/// The human part of an error body: GitHub's `message`, Airflow's `detail`, else the text.
fn message(body: &Value) -> String {
    let pick = |key: &str| body.get(key).filter(|v| !v.is_null());
    match pick("message")
        .or_else(|| pick("detail"))
        .or_else(|| pick("error"))
    {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => match body {
            Value::String(s) => s.chars().take(300).collect(),
            Value::Null => String::new(),
            other => other.to_string().chars().take(300).collect(),
        },
    }
}

/// A non-success answer as an error: authentication, not found and validation are refusals
/// (retrying will not help); rate limits and server errors count as unreachable (it may).
pub fn refused(what: &str, status: StatusCode, body: &Value) -> BackendError {
    let msg = message(body);
    let code = status.as_u16();
    match code {
        401 | 403 => BackendError::Refused(format!(
            "{what}: authentication failed ({code}): {msg}; check the backend credentials"
        )),
        404 => BackendError::Refused(format!("{what}: not found (404): {msg}")),
        429 | 500..=599 => BackendError::Unreachable(format!("{what}: {code} {msg}")),
        _ => BackendError::Refused(format!("{what}: rejected ({code}): {msg}")),
    }
}

/// Sends a request and returns the status with the body as JSON (a string if it is not JSON,
/// null if empty). Connection failures and timeouts are `Unreachable`.
pub async fn send(
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<(StatusCode, Value), BackendError> {
    let response = request.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "timed out".to_owned()
        } else {
            e.to_string()
        };
        BackendError::Unreachable(format!("{what}: {why}"))
    })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| BackendError::Unreachable(format!("{what}: reading the answer: {e}")))?;
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}

/// Like [`send`], but any non-success status is an error.
pub async fn send_ok(request: reqwest::RequestBuilder, what: &str) -> Result<Value, BackendError> {
    let (status, body) = send(request, what).await?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(refused(what, status, &body))
    }
}

/// Metric name to finite number, at least one.
fn metrics_of(
    value: Option<&Value>,
    what: &str,
) -> Result<std::collections::BTreeMap<String, f64>, BackendError> {
    let bad = |why: &str| BackendError::Output(format!("{what}: {why}"));
    let object = value
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no `metrics` object"))?;
    let mut metrics = std::collections::BTreeMap::new();
    for (name, v) in object {
        let n = v
            .as_f64()
            .filter(|n| n.is_finite())
            .ok_or_else(|| bad(&format!("metric `{name}` is {v}, not a finite number")))?;
        metrics.insert(name.clone(), n);
    }
    if metrics.is_empty() {
        return Err(bad("`metrics` is empty"));
    }
    Ok(metrics)
}

/// The champion measured on the candidate's holdout: `{"version": "v1", "metrics": {...}}`,
/// optionally with `segments` (both versions per category, see [`segments_of`]).
pub fn baseline(value: &Value, what: &str) -> Result<crate::model::Baseline, BackendError> {
    let version = value
        .get("version")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| BackendError::Output(format!("{what}: no `version`")))?;
    Ok(crate::model::Baseline {
        version: version.to_owned(),
        metrics: metrics_of(value.get("metrics"), what)?,
        segments: segments_of(value.get("segments"), what)?,
    })
}

/// Segments a trainer may report with a baseline.
const MAX_SEGMENTS: usize = 500;
/// Longest feature or category name of a segment, in characters.
const MAX_SEGMENT_NAME: usize = 200;

/// `[{"feature", "category", "rows", "candidate": {...}, "champion": {...}}]`, optional.
fn segments_of(
    value: Option<&Value>,
    what: &str,
) -> Result<Vec<crate::model::SegmentMetrics>, BackendError> {
    let bad = |why: String| BackendError::Output(format!("{what}: {why}"));
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| bad("`segments` is not an array".into()))?;
    if items.len() > MAX_SEGMENTS {
        return Err(bad(format!(
            "{} segments; at most {MAX_SEGMENTS}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("segment {}", i + 1);
        let name = |key: &str| {
            item.get(key)
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && n.chars().count() <= MAX_SEGMENT_NAME)
                .map(str::to_owned)
                .ok_or_else(|| {
                    bad(format!(
                        "{at}: `{key}` must be text of 1 to {MAX_SEGMENT_NAME} characters"
                    ))
                })
        };
        out.push(crate::model::SegmentMetrics {
            feature: name("feature")?,
            category: name("category")?,
            rows: item
                .get("rows")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(format!("{at}: `rows` must be a count")))?,
            candidate: metrics_of(item.get("candidate"), &format!("{what}: {at} `candidate`"))?,
            champion: metrics_of(item.get("champion"), &format!("{what}: {at} `champion`"))?,
        });
    }
    Ok(out)
}

/// A produced model reported as JSON: `{"metrics": {...}, "artifact_uri": "...",
/// "artifact_digest": "sha256:..."}`.
pub fn candidate(value: &Value, what: &str) -> Result<super::Candidate, BackendError> {
    let bad = |why: &str| BackendError::Output(format!("{what}: {why}"));
    let metrics = metrics_of(value.get("metrics"), what)?;
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| bad(&format!("no `{key}`")))
    };
    let digest = text("artifact_digest")?;
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("`artifact_digest` must be sha256:<64 hex digits>"));
    }
    Ok(super::Candidate {
        metrics,
        artifact_uri: text("artifact_uri")?,
        artifact_digest: digest,
        data_snapshot: None,
        baseline: match value.get("baseline") {
            None | Some(Value::Null) => None,
            Some(b) => Some(baseline(b, &format!("{what} `baseline`"))?),
        },
        label: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn segment(feature: Value) -> Value {
        json!({"version": "v1", "metrics": {"auc": 0.8}, "segments": [{
            "feature": feature, "category": "crypto", "rows": 40,
            "candidate": {"auc": 0.7}, "champion": {"auc": 0.6},
        }]})
    }

    #[test]
    fn a_baseline_may_carry_segments_within_limits() {
        let b = baseline(&segment(json!("merchant_category")), "out").unwrap();
        assert_eq!(b.segments.len(), 1);
        assert_eq!(b.segments[0].rows, 40);
        assert_eq!(b.segments[0].champion["auc"], 0.6);
        assert!(
            baseline(&json!({"version": "v1", "metrics": {"auc": 0.8}}), "out")
                .unwrap()
                .segments
                .is_empty()
        );
        for bad in [json!(""), json!("x".repeat(201)), json!(3)] {
            let e = baseline(&segment(bad), "out").unwrap_err().to_string();
            assert!(e.contains("segment 1: `feature`"), "{e}");
        }
        let mut many = segment(json!("f"));
        let one = many["segments"][0].clone();
        many["segments"] = Value::Array(vec![one; MAX_SEGMENTS + 1]);
        assert!(baseline(&many, "out").is_err());
        let mut nan = segment(json!("f"));
        nan["segments"][0]["candidate"] = json!({"auc": "high"});
        assert!(baseline(&nan, "out").is_err());
    }
}
