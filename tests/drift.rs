//! `check_drift` end to end: the demo's drifted data makes the real server recommend a retrain,
//! the report is stored and served, `list_models` shows the verdict, refusals are clear.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{HttpServer, Workspace, call, post, read};
use mlops_tools::trace::Outcome;
use serde_json::{Value, json};

async fn tool(server: &HttpServer, token: &str, name: &str, args: Value) -> Value {
    let auth = format!("Bearer {token}");
    let (status, _, body) = post(server, Some(&auth), &call(name, args)).await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// A demo server, a token for `sub`, and the result of its first `check_drift`.
async fn checked(sub: &str) -> (Workspace, HttpServer, String, Value) {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let token = ws.token(sub, "agent");
    let result = tool(
        &server,
        &token,
        "check_drift",
        json!({"model": "fraud-detector"}),
    )
    .await;
    (ws, server, token, result)
}

#[tokio::test]
async fn demo_drift_recommends_retrain_and_is_stored() {
    let (ws, server, token, result) = checked("drift-agent").await;
    assert_eq!(result["isError"], false, "{result}");
    let report = &result["structuredContent"];
    assert_eq!(report["recommended_action"], "retrain");
    assert_eq!(report["dataset_drift"], true);
    assert!(report["drifted_share"].as_f64().unwrap() >= 0.5);
    assert_eq!(
        report["features"].as_array().unwrap().len(),
        7,
        "the label is not a feature"
    );
    let reasons = report["reasons"].as_array().unwrap();
    assert!(
        reasons[0].as_str().unwrap().contains("features drifted")
            && reasons[0].as_str().unwrap().ends_with("retrain")
    );
    let id = report["report_id"].as_str().unwrap().to_owned();
    assert!(report["next_step"].as_str().unwrap().contains(&id));

    // The stored report is served, and list_models shows the verdict.
    let report = read(&format!("mlops://drift-reports/{id}"));
    let (_, _, body) = post(&server, Some(&format!("Bearer {token}")), &report).await;
    let markdown = body["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        markdown.contains("Recommended action: retrain") && markdown.contains("merchant_category"),
        "{markdown}"
    );
    let listed = tool(&server, &token, "list_models", json!({})).await;
    assert_eq!(
        listed["structuredContent"]["models"][0]["last_drift"]["report_id"],
        id.as_str(),
        "{listed}"
    );
    let card = read("mlops://models/fraud-detector/card");
    let (_, _, body) = post(&server, Some(&format!("Bearer {token}")), &card).await;
    let card_md = body["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        card_md.contains(&format!("mlops://drift-reports/{id}")) && card_md.contains("**retrain**"),
        "{card_md}"
    );

    // A narrower check: one categorical feature with a requested test.
    let one = tool(
        &server,
        &token,
        "check_drift",
        json!({"model": "fraud-detector", "features": ["channel"], "stattest": "psi"}),
    )
    .await;
    let f = &one["structuredContent"]["features"][0];
    assert_eq!(
        (f["name"].as_str(), f["stattest"].as_str()),
        (Some("channel"), Some("psi"))
    );
    assert!(f["stattest_reason"].as_str().unwrap().contains("requested"));

    // Refusals an agent can act on.
    let unknown = tool(&server, &token, "check_drift", json!({"model": "churn"})).await;
    assert_eq!(unknown["isError"], true);
    assert!(
        unknown["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("list_models")
    );
    let bad = tool(
        &server,
        &token,
        "check_drift",
        json!({"model": "fraud-detector", "features": ["salary"]}),
    )
    .await;
    assert!(
        bad["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("amount"),
        "{bad}"
    );

    let events = ws.traces().await;
    assert!(events.iter().any(|e| e.principal == "drift-agent"
        && e.action == "check_drift"
        && e.outcome == Outcome::Ok));
    assert!(events.iter().any(|e| e.action == "check_drift"
        && e.outcome == Outcome::Error
        && e.arguments.contains("churn")));
}

#[tokio::test]
async fn grants_hide_other_models_reports() {
    let (ws, server, _token, result) = checked("owner").await;
    let id = result["structuredContent"]["report_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let keys = ws.keys();
    let mut claims = ws.claims("other-team", "models:read drift:read", 600);
    claims.models = Some(vec!["churn-*".into()]);
    let limited = keys.sign(&claims).unwrap();
    let refused = tool(
        &server,
        &limited,
        "check_drift",
        json!({"model": "fraud-detector"}),
    )
    .await;
    assert!(
        refused["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not known")
    );
    let report = read(&format!("mlops://drift-reports/{id}"));
    let (_, _, body) = post(&server, Some(&format!("Bearer {limited}")), &report).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{body}"
    );
}
