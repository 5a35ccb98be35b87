//! Promotion webhooks with the real binary: each new request and each decision is announced to a
//! Standard Webhooks receiver (signature verified over the raw bytes) and a Slack-style one (a
//! message with the page's link); a signed decision callback needs a valid signature, the
//! approver's own token with promotion:approve, and a delivery id never used before.

use crate::common;

use std::time::Duration;

use common::{HttpServer, Workspace, pending_promotion_with};
use mlops_engine::signing;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CALLBACK_SECRET: &str = "callback-secret-for-tests-0123456789";

/// A receiver that answers 200 and hands each delivery to the test, which waits on the
/// deliveries themselves.
struct Deliveries(mpsc::UnboundedSender<wiremock::Request>);

impl wiremock::Respond for Deliveries {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let _ = self.0.send(request.clone());
        ResponseTemplate::new(200)
    }
}

/// Mounts a receiver on `route`; its deliveries arrive on the returned channel.
pub(crate) async fn receiver(
    mock: &MockServer,
    route: &str,
) -> mpsc::UnboundedReceiver<wiremock::Request> {
    let (tx, rx) = mpsc::unbounded_channel();
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(Deliveries(tx))
        .mount(mock)
        .await;
    rx
}

/// The next delivery about a promotion (up to 20 s each); alert announcements, which go to the
/// same receivers, are passed over.
async fn next_promotion(
    deliveries: &mut mpsc::UnboundedReceiver<wiremock::Request>,
) -> wiremock::Request {
    loop {
        let r = next(deliveries).await;
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let about_alert = body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("alert."))
            || body["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("*Model alert"));
        if !about_alert {
            return r;
        }
    }
}

/// The next delivery (up to 20 s).
pub(crate) async fn next(
    deliveries: &mut mpsc::UnboundedReceiver<wiremock::Request>,
) -> wiremock::Request {
    tokio::time::timeout(Duration::from_secs(20), deliveries.recv())
        .await
        .expect("no delivery within 20 s")
        .unwrap()
}

pub(crate) fn verified(r: &wiremock::Request) -> Value {
    let h = |name: &str| r.headers.get(name).unwrap().to_str().unwrap().to_owned();
    let ts: i64 = h(signing::TIMESTAMP_HEADER).parse().unwrap();
    signing::verify(
        SECRET,
        &h(signing::ID_HEADER),
        ts,
        &r.body,
        &h(signing::SIGNATURE_HEADER),
        ts,
    )
    .unwrap();
    // A tampered payload does not verify.
    let mut tampered = r.body.clone();
    tampered.push(b' ');
    assert!(
        signing::verify(
            SECRET,
            &h(signing::ID_HEADER),
            ts,
            &tampered,
            &h(signing::SIGNATURE_HEADER),
            ts
        )
        .is_err()
    );
    serde_json::from_slice(&r.body).unwrap()
}

async fn callback(
    server: &HttpServer,
    token: &str,
    id: &str,
    body: &Value,
    signed_body: Option<&Value>,
) -> (u16, Value) {
    let bytes = body.to_string();
    let signed = signed_body.map_or(bytes.clone(), Value::to_string);
    let ts = chrono::Utc::now().timestamp();
    let r = reqwest::Client::new()
        .post(format!("{}/approvals/callback", server.base))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header(signing::ID_HEADER, id)
        .header(signing::TIMESTAMP_HEADER, ts.to_string())
        .header(
            signing::SIGNATURE_HEADER,
            signing::sign(CALLBACK_SECRET, id, ts, signed.as_bytes()),
        )
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn requests_and_decisions_are_announced_and_callbacks_are_checked() {
    let mock = MockServer::start().await;
    let mut standard = receiver(&mock, "/standard").await;
    let mut chat = receiver(&mock, "/slack").await;
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        let hooks = toml::Value::Array(vec![
            toml::Value::Table(toml::toml! {
                url = (format!("{}/standard", mock.uri()))
                format = "standard"
                secret_env = "MLOPS_TEST_WEBHOOK_SECRET"
            }),
            toml::Value::Table(toml::toml! {
                url = (format!("{}/slack", mock.uri()))
                format = "slack"
            }),
        ]);
        let mut promotion = toml::Table::new();
        promotion.insert("webhooks".into(), hooks);
        promotion.insert(
            "callback_secret_env".into(),
            "MLOPS_TEST_CALLBACK_SECRET".into(),
        );
        t.insert("promotion".into(), promotion.into());
    });
    let env = [
        ("MLOPS_TEST_WEBHOOK_SECRET", SECRET),
        ("MLOPS_TEST_CALLBACK_SECRET", CALLBACK_SECRET),
    ];
    let server = HttpServer::start_with(&ws, &env);
    let agent = ws.token("demo-agent", "agent");
    // A justification that tries to mention everyone, plant a link and clear a terminal.
    let hostile = "better <!channel> <https://evil.example/approve|Approve now> & \u{1b}[2J";
    let id = pending_promotion_with(&server, &agent, hostile).await;

    let requested = verified(&next_promotion(&mut standard).await);
    assert_eq!(requested["type"], "promotion.requested");
    assert_eq!(requested["data"]["request_id"], id.as_str());
    assert_eq!(requested["data"]["state"], "pending_approval");
    let slack: Value = serde_json::from_slice(&next_promotion(&mut chat).await.body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("Promotion requested") && text.contains(&format!("/approvals/{id}|")),
        "{text}"
    );
    // Slack's own escaping: the justification is text, neither a mention nor a link.
    assert!(
        text.contains("&lt;!channel&gt; &lt;https://evil.example/approve|Approve now&gt; &amp;"),
        "{text}"
    );
    assert!(
        !text.contains("<!channel>") && !text.contains("<https://evil"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text}");

    let approve = json!({"request_id": id, "decision": "approve", "note": "via chat"});
    let champion = |ws: &Workspace| {
        let (ws_db, key) = (ws.db_url(), ws.chain_key());
        async move {
            let store = mlops_engine::store::open(&ws_db, key).await.unwrap();
            store
                .get_model("fraud-detector")
                .await
                .unwrap()
                .unwrap()
                .aliased("champion")
                .unwrap()
                .version
                .clone()
        }
    };
    let alice = ws.token("alice", "promotion:approve,models:read");
    // A forged signature, and a payload other than the one signed: 401.
    let (status, _) = callback(
        &server,
        &alice,
        "d-1",
        &approve,
        Some(&json!({"request_id": id, "decision": "deny"})),
    )
    .await;
    assert_eq!(status, 401);
    // The agent's own token (no promotion:approve), properly signed: refused.
    let (status, body) = callback(&server, &agent, "d-2", &approve, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("promotion:approve")
    );
    assert_eq!(champion(&ws).await, "v1");

    let (status, body) = callback(&server, &alice, "d-3", &approve, None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("promoted")),
        "{body}"
    );
    assert_eq!(champion(&ws).await, "v2");
    // Replaying the same delivery decides nothing.
    let (status, _) = callback(&server, &alice, "d-3", &approve, None).await;
    assert_eq!(status, 409);

    let decided = verified(&next_promotion(&mut standard).await);
    assert_eq!(decided["type"], "promotion.decided");
    assert_eq!(decided["data"]["state"], "promoted");
    assert_eq!(decided["data"]["decided_by"], "alice");
    assert!(
        ws.traces()
            .await
            .iter()
            .any(|e| e.action == "promotion.promoted" && e.principal == "alice")
    );
}
