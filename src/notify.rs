//! Announcements of promotion requests and decisions, and of drift alerts, to the configured webhooks
//! (`[[promotion.webhooks]]`): `standard` receivers get JSON signed with Standard Webhooks
//! headers (the delivery id stays the same across retries, so a receiver can drop repeats);
//! `slack` receivers (an incoming-webhook URL) get a message with a link to the approval page.
//! Each delivery is tried three times; a delivery that still fails is logged and traced, and
//! never blocks the decision it announces.

use std::time::Duration;

use mlops_engine::alerts::AlertChange;
use mlops_engine::promotion::Promotion;
use mlops_engine::signing;
use mlops_engine::trace::{NewTraceEvent, Outcome};
use mlops_engine::trace_log::TraceLog;
use serde_json::{Value, json};

use crate::config::{WebhookFormat, WebhookTarget};

const ATTEMPTS: u32 = 3;

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Requested,
    Decided,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::Requested => "promotion.requested",
            Event::Decided => "promotion.decided",
        }
    }
}

fn standard_body(event: Event, p: &Promotion, page: &str) -> Value {
    json!({
        "type": event.name(),
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "data": {
            "request_id": p.id,
            "model": p.model,
            "candidate_version": p.candidate_version,
            "state": p.state.as_str(),
            "requested_by": p.requested_by,
            "justification": p.justification,
            "expires_at": p.expires_at.to_rfc3339(),
            "decided_by": p.decided_by,
            "decision_note": p.decision_note,
            "failure_reason": p.failure_reason,
            "approval_url": page,
            "promotion_uri": format!("mlops://promotions/{}", p.id),
            "validation_uri": format!("mlops://validations/{}", p.validation_id),
        },
    })
}

/// Text for a Slack message: `&`, `<` and `>` escaped as Slack documents, so a justification
/// cannot become a link (`<https://evil|Review>`) or a mention (`<!channel>`); control
/// characters removed.
fn slack_escape(text: &str) -> String {
    mlops_engine::untrusted::strip_controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack_body(event: Event, p: &Promotion, page: &str) -> Value {
    let text = match event {
        Event::Requested => format!(
            "*Promotion requested*: `{}` {} → champion, by {} (\"{}\"). <{page}|Review and decide> before {}.",
            slack_escape(&p.model),
            slack_escape(&p.candidate_version),
            slack_escape(&p.requested_by),
            slack_escape(&p.justification),
            p.expires_at.format("%Y-%m-%d %H:%M UTC")
        ),
        Event::Decided => format!(
            "*Promotion {}*: `{}` {} — decided by {}{}. <{page}|Details>",
            p.state.as_str(),
            slack_escape(&p.model),
            slack_escape(&p.candidate_version),
            slack_escape(p.decided_by.as_deref().unwrap_or("nobody")),
            p.failure_reason
                .as_deref()
                .or(p.decision_note.as_deref())
                .map(|n| format!(" ({})", slack_escape(n)))
                .unwrap_or_default()
        ),
    };
    json!({
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    })
}

async fn deliver(target: &WebhookTarget, id: &str, body: &[u8]) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client
        .post(&target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if target.format == WebhookFormat::Standard {
        let var = target.secret_env.as_deref().unwrap_or_default();
        let secret = std::env::var(var)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                format!(
                    "the environment variable {var} (promotion.webhooks[].secret_env) is not set"
                )
            })?;
        let ts = chrono::Utc::now().timestamp();
        request = request
            .header(signing::ID_HEADER, id)
            .header(signing::TIMESTAMP_HEADER, ts.to_string())
            .header(
                signing::SIGNATURE_HEADER,
                signing::sign(&secret, id, ts, body),
            );
    }
    let response = request
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{} answered {}", target.url, response.status()))
    }
}

/// What announcing needs: the receivers, the approval page's address and the trace to record
/// failed deliveries in.
pub struct Receivers<'a> {
    pub webhooks: &'a [WebhookTarget],
    /// The approval page, e.g. `http://127.0.0.1:8080/approvals`.
    pub approval_page: String,
    pub traces: &'a TraceLog,
}

/// Sends `event` about `p` to every configured receiver and waits for the deliveries (each
/// retried; failures are traced, not returned).
pub async fn announce(to: &Receivers<'_>, event: Event, p: &Promotion) {
    let page = format!("{}/{}", to.approval_page.trim_end_matches('/'), p.id);
    let id = format!("{}.{}.{}", p.id, event.name(), p.state.as_str());
    let trace_id = p
        .trace_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let args = json!({"request_id": p.id, "event": event.name()});
    send_all(to, &id, &trace_id, &args, |format| match format {
        WebhookFormat::Standard => standard_body(event, p, &page),
        WebhookFormat::Slack => slack_body(event, p, &page),
    })
    .await;
}

/// Sends an alert's change to every configured receiver (the promotion webhooks: one list of
/// receivers for everything a person should hear about).
pub async fn announce_alert(to: &Receivers<'_>, change: &AlertChange) {
    let a = &change.alert;
    let id = format!(
        "{}.{}.{}",
        a.id,
        change.action,
        a.updated_at.timestamp_micros()
    );
    let trace_id = uuid::Uuid::new_v4().to_string();
    let args = json!({"alert_id": a.id, "model": a.model, "event": change.action});
    send_all(to, &id, &trace_id, &args, |format| match format {
        WebhookFormat::Standard => json!({
            "type": change.action,
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "data": {
                "alert_id": a.id,
                "model": a.model,
                "state": a.state.as_str(),
                "level": a.level.as_str(),
                "note": a.note,
                "opened_at": a.opened_at.to_rfc3339(),
                "opened_by": a.opened_by,
                "alert_uri": format!("mlops://alerts/{}", a.id),
                "report_uri": a.latest_report,
            },
        }),
        WebhookFormat::Slack => {
            let text = format!(
                "*Model alert {}*: `{}` — {} ({}).",
                a.state.as_str(),
                slack_escape(&a.model),
                a.level.as_str(),
                slack_escape(&a.note)
            );
            json!({
                "text": text,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
            })
        }
    })
    .await;
}

/// Delivers one announcement (the body per receiver format) to every receiver, each retried;
/// a delivery that still fails is logged and traced under `trace_id` with `args`.
async fn send_all(
    to: &Receivers<'_>,
    id: &str,
    trace_id: &str,
    args: &Value,
    body_of: impl Fn(WebhookFormat) -> Value,
) {
    for target in to.webhooks {
        let bytes = body_of(target.format).to_string().into_bytes();
        let mut last = Ok(());
        for attempt in 0..ATTEMPTS {
            last = deliver(target, id, &bytes).await;
            if last.is_ok() {
                break;
            }
            if attempt + 1 < ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
            }
        }
        if let Err(error) = last {
            tracing::warn!(%error, url = %target.url, "webhook not delivered");
            let mut args = args.clone();
            if let Some(map) = args.as_object_mut() {
                map.insert("url".into(), json!(target.url));
            }
            let event = NewTraceEvent::new(
                trace_id,
                "mlops-mcp",
                "notification.failed",
                &args,
                Outcome::Error,
                error,
                0,
            );
            if let Err(error) = to.traces.record(event).await {
                tracing::error!(%error, "trace event not recorded");
            }
        }
    }
}
