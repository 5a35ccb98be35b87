//! `check_performance` with the real binary: ingested rows carrying the model's score and their
//! label, measured as `mlops-mcp quality` measures the same rows, compared with the champion,
//! ranked per segment; rows without a label counted and not measured; too few labels never
//! recommend retraining.

use crate::common;

use common::tools::{call, error_text};
use common::{HttpServer, Workspace, tool};
use mlops_engine::check_drift::RecommendedAction;
use mlops_engine::check_performance::CheckPerformanceOutput;
use mlops_engine::list_models::ModelState;
use serde_json::{Value, json};

/// The demo's current rows as CSV with a timestamp (the last hour), the label kept only for
/// `labelled` of them, and a score from `score(i, is_fraud, merchant_category)`.
fn scored_rows(
    ws: &Workspace,
    labelled: usize,
    score: impl Fn(usize, bool, &str) -> f64,
) -> String {
    let text = std::fs::read_to_string(ws.path().join("data/fraud-detector/current.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let columns: Vec<&str> = header.split(',').collect();
    let label_at = columns.iter().position(|c| *c == "is_fraud").unwrap();
    let category_at = columns
        .iter()
        .position(|c| *c == "merchant_category")
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut out = format!("timestamp,id,prediction,{header}\n");
    for (i, line) in lines.enumerate() {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        let fraud = cells[label_at] == "1";
        let p = score(i, fraud, &cells[category_at]);
        if i >= labelled {
            cells[label_at] = String::new();
        }
        out.push_str(&format!(
            "{},row-{i},{p},{}\n",
            now - 3000 + i as i64 / 2,
            cells.join(",")
        ));
    }
    out
}

/// A deterministic pseudo-random number in [0, 1).
fn noise(i: usize) -> f64 {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    x as f64 / (1u64 << 53) as f64
}

/// `retrain`, because `metric` degraded, with crypto the worst segment, all said in the reasons.
fn retrain_for(out: &CheckPerformanceOutput, metric: &str) {
    assert_eq!(
        out.recommended_action,
        RecommendedAction::Retrain,
        "{:?}",
        out.reasons
    );
    assert!(
        out.degraded.iter().any(|d| d.metric == metric),
        "{:?}",
        out.degraded
    );
    let worst = &out.segments[0];
    assert_eq!(
        (worst.feature.as_str(), worst.category.as_str()),
        ("merchant_category", "crypto")
    );
    let said = |text: &str| out.reasons.iter().any(|r| r.contains(text));
    assert!(
        said(&format!("{metric} degraded")) && said("\"crypto\""),
        "{:?}",
        out.reasons
    );
}

async fn check(server: &HttpServer, agent: &str, args: Value) -> CheckPerformanceOutput {
    call(server, agent, "check_performance", args).await
}

async fn ingest(server: &HttpServer, ws: &Workspace, body: String) {
    let writer = ws.token("pipeline", "data:write");
    let (status, _, body) =
        crate::drift::ingest(server, Some(&writer), "fraud-detector", "text/csv", body).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn quality_is_measured_on_labelled_rows_and_a_degraded_model_is_retrained() {
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        let policy = t["models"][0]["policy"].as_table_mut().unwrap();
        policy.insert("min_labels".into(), 200.into());
    });
    let server = HttpServer::start(&ws);
    let agent = ws.token("quality-agent", "agent");
    // A model that lost its signal: random scores, and worse than random on crypto.
    let rows = scored_rows(&ws, 2000, |i, fraud, category| {
        if category == "crypto" {
            if fraud { 0.05 } else { 0.95 }
        } else {
            0.5 * noise(i) + if fraud { 0.1 } else { 0.0 }
        }
    });
    ingest(&server, &ws, rows.clone()).await;
    let out = check(
        &server,
        &agent,
        json!({"model": "fraud-detector", "last": "2h"}),
    )
    .await;
    assert_eq!(out.rows, 3000);
    assert_eq!(out.labelled_rows, 2000, "only labelled rows are measured");
    assert!((out.labelled_share - 2.0 / 3.0).abs() < 1e-12);
    retrain_for(&out, "roc_auc");

    // The same rows measured by `mlops-mcp quality`: the same numbers.
    let file = ws.path().join("labelled.csv");
    let mut csv = String::from("prediction,label\n");
    for line in rows.lines().skip(1).take(2000) {
        let cells: Vec<&str> = line.split(',').collect();
        csv.push_str(&format!("{},{}\n", cells[2], cells[cells.len() - 1]));
    }
    std::fs::write(&file, csv).unwrap();
    // At the demo model's decision threshold (v1's, 0.2).
    let cli = ws
        .command()
        .args(["quality", "--threshold", "0.2"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    for (name, e) in &out.metrics {
        assert_eq!(
            cli["metrics"][name]["value"].as_f64(),
            e.value,
            "{name}: the tool and the CLI disagree"
        );
    }

    // The report is stored: a resource, the card's newest quality check, the fleet's state, and
    // the evidence a retrain cites.
    let uri = format!("mlops://quality-reports/{}", out.report_id);
    let (_, _, body) = common::post(
        &server,
        Some(&format!("Bearer {agent}")),
        &common::read(&uri),
    )
    .await;
    let markdown = body["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        markdown.contains("**Recommended action: retrain**") && markdown.contains("` crypto `"),
        "{markdown}"
    );
    let card = common::tools::model_card(&server, &agent, "fraud-detector").await;
    assert_eq!(card.last_quality.unwrap().report_id, out.report_id);
    let listed = common::tools::list_models(&server, &agent).await;
    assert_eq!(
        listed.models[0].state,
        ModelState::QualityRetrain,
        "{listed:?}"
    );
    let job = common::tools::trigger_retrain(
        &server,
        &agent,
        json!({"model": "fraud-detector", "reason": "roc_auc degraded", "drift_report_id": out.report_id}),
    )
    .await;
    assert!(job.created);
    let listed = common::tools::list_models(&server, &agent).await;
    assert_ne!(
        listed.models[0].state,
        ModelState::QualityRetrain,
        "{listed:?}"
    );

    // Bad input is refused with what to do.
    let refused = tool(
        &server,
        &agent,
        "check_performance",
        json!({"model": "fraud-detector", "last": "soon"}),
    )
    .await;
    assert!(error_text(&refused).contains("last"), "{refused}");
}

#[tokio::test]
async fn too_few_labels_never_recommend_retraining() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("quality-agent", "agent");
    // Terrible scores, but only 40 labels (the default policy needs 100).
    let rows = scored_rows(&ws, 40, |_, fraud, _| if fraud { 0.0 } else { 1.0 });
    ingest(&server, &ws, rows).await;
    let drift =
        common::tools::check_drift(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!(drift.recommended_action, RecommendedAction::Retrain);
    let out = check(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!(out.labelled_rows, 40);
    assert!(out.metrics.is_empty());
    assert_eq!(
        out.reasons[0],
        "not enough labels: 40, at least 100 needed (policy.min_labels)"
    );
    assert_eq!(
        out.recommended_action,
        RecommendedAction::Investigate,
        "{:?}",
        out.reasons
    );
    assert!(
        out.reasons[1].contains("falling back to drift"),
        "{:?}",
        out.reasons
    );
}

/// POSTs labels (CSV) to the model's labels endpoint; the status and the JSON answer.
async fn send_labels(
    server: &HttpServer,
    ws: &Workspace,
    query: &str,
    body: String,
) -> (u16, Value) {
    let writer = ws.token("labeller", "data:write");
    let r = reqwest::Client::new()
        .post(format!(
            "{}/v1/models/fraud-detector/labels{query}",
            server.base
        ))
        .header("content-type", "text/csv")
        .bearer_auth(writer)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn late_labels_join_their_rows_by_id_and_change_the_next_check() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("quality-agent", "agent");
    // Predictions with ids, no labels yet.
    let rows = scored_rows(&ws, 0, |i, fraud, _| {
        if fraud {
            0.9 - 0.1 * noise(i)
        } else {
            0.1 + 0.2 * noise(i)
        }
    });
    ingest(&server, &ws, rows).await;
    let before = check(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!((before.rows, before.labelled_rows), (3000, 0));
    assert!(
        before.reasons[0].starts_with("not enough labels: 0"),
        "{:?}",
        before.reasons
    );

    // The outcomes arrive: 500 of them, two for ids nobody sent.
    let text = std::fs::read_to_string(ws.path().join("data/fraud-detector/current.csv")).unwrap();
    let mut labels = String::from("id,label\n");
    for (i, line) in text.lines().skip(1).take(500).enumerate() {
        labels.push_str(&format!("row-{i},{}\n", line.rsplit(',').next().unwrap()));
    }
    labels.push_str("ghost-1,1\nghost-2,0\n");
    let (status, answer) = send_labels(&server, &ws, "", labels.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stored"], 500);
    assert_eq!(answer["unknown_count"], 2);
    assert_eq!(answer["unknown_ids"], json!(["ghost-1", "ghost-2"]));

    let after = check(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!(after.labelled_rows, 500);
    assert!(
        after.metrics["roc_auc"].value.unwrap() > 0.95,
        "{:?}",
        after.metrics
    );
    assert!(after.label_delay_seconds.unwrap() > 0.0);

    // A second label for an id is refused (nothing stored) unless the request says replace.
    let (status, answer) =
        send_labels(&server, &ws, "", "id,label\nrow-0,1\nrow-600,0\n".into()).await;
    assert_eq!(status, 409, "{answer}");
    let same = check(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!(
        same.labelled_rows, 500,
        "the refused request stored nothing"
    );
    let (status, answer) = send_labels(
        &server,
        &ws,
        "?replace=true",
        "id,label\nrow-0,1\nrow-600,0\n".into(),
    )
    .await;
    assert_eq!(
        (status, answer["stored"].as_u64()),
        (200, Some(2)),
        "{answer}"
    );
    let (status, answer) =
        send_labels(&server, &ws, "", "id,label\nrow-700,perhaps\n".into()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("`label`"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_monitor_runs_quality_checks_and_the_fleet_sees_the_degraded_model() {
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        let demo = t["models"][0].as_table_mut().unwrap();
        demo.insert(
            "monitor".into(),
            toml::Value::Table(toml::toml! { every = "2s" last = "2h" run = ["quality"] }),
        );
        let mut monitors = toml::Table::new();
        monitors.insert("tick_ms".into(), 200.into());
        t.insert("monitors".into(), monitors.into());
    });
    let server = HttpServer::start(&ws);
    let agent = ws.token("quality-agent", "agent");
    // Scores that carry no signal.
    ingest(&server, &ws, scored_rows(&ws, 3000, |i, _, _| noise(i))).await;
    let store = ws.store().await;
    // Runs before the rows arrived fail; the first that reads them sees the degradation.
    let mut state = None;
    for _ in 0..10 {
        server.wait_for_line(
            &["monitor run finished", "model=fraud-detector"],
            std::time::Duration::from_secs(30),
        );
        let listed = common::tools::list_models(&server, &agent).await;
        state = Some(listed.models[0].state);
        if state == Some(ModelState::QualityRetrain) {
            break;
        }
    }
    assert_eq!(state, Some(ModelState::QualityRetrain));
    let runs = store
        .monitor_runs(Some("fraud-detector"), 100)
        .await
        .unwrap();
    let ran = runs.iter().find(|r| r.report_id.is_some()).unwrap();
    assert!(
        ran.detail.starts_with("quality: ") && ran.detail.contains("degraded"),
        "{ran:?}"
    );
    let events = ws.traces().await;
    assert!(events.iter().any(
        |e| e.action == "check_performance" && e.principal == mlops_engine::monitor::PRINCIPAL
    ));
}

/// `rows` (from [`scored_rows`]) moved `hours` back in time.
fn shifted(rows: &str, hours: i64) -> String {
    let mut lines = rows.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines {
        let (ts, rest) = line.split_once(',').unwrap();
        let ts: i64 = ts.parse().unwrap();
        out.push_str(&format!("{},{rest}\n", ts - hours * 3600));
    }
    out
}

#[tokio::test]
async fn check_drift_reports_the_drift_of_the_predictions_beside_the_features() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let agent = ws.token("quality-agent", "agent");
    // The same rows twice: three hours ago scored low, in the last hour scored high.
    let before = scored_rows(&ws, 0, |i, _, _| 0.1 + 0.2 * noise(i));
    let after = scored_rows(&ws, 0, |i, _, _| 0.6 + 0.2 * noise(i));
    ingest(&server, &ws, shifted(&before, 3)).await;
    ingest(&server, &ws, after).await;
    let now = chrono::Utc::now();
    let at = |h: i64| (now - chrono::TimeDelta::hours(h)).to_rfc3339();
    let out = common::tools::check_drift(
        &server,
        &agent,
        json!({"model": "fraud-detector", "from": at(1), "reference_from": at(4), "reference_to": at(2)}),
    )
    .await;
    let p = out
        .prediction_drift
        .expect("both windows carry predictions");
    assert_eq!(p.name, "prediction");
    assert!(p.drift_detected, "{p:?}");
    // The features are the same rows: no feature drifted, and the prediction is not one of them.
    assert_eq!(out.report.drifted_features, 0, "{:?}", out.reasons);
    assert!(out.report.features.iter().all(|f| f.name != "prediction"));
    assert!(
        out.reasons
            .iter()
            .any(|r| r.contains("predictions (`prediction`) drifted")),
        "{:?}",
        out.reasons
    );
}

/// The demo as a newcomer starts it: its last hour of traffic is scored by v1, the older two
/// thirds labelled twenty minutes late. v1 does not know the new crypto risk, so a quality
/// check finds it degraded there, recommends retraining and opens the model's alert; the rows
/// still without a label get an estimate, calibrated on v1's scored holdout.
#[tokio::test]
async fn the_demo_traffic_degrades_v1_on_crypto_and_opens_a_quality_alert() {
    let ws = Workspace::demo_with_traffic();
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let out = check(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!((out.rows, out.labelled_rows), (3000, 2000));
    assert_eq!(out.label_delay_seconds, Some(1200.0));
    retrain_for(&out, "accuracy");
    let estimated = out
        .estimated
        .as_ref()
        .expect("an estimate for the unlabelled rows");
    assert_eq!(estimated.rows, 1000);
    assert_eq!(estimated.calibration, "isotonic");
    assert!(estimated.assumptions.contains("no concept drift"));
    assert!(
        estimated
            .metrics
            .values()
            .all(|v| v.is_some_and(|v| (0.0..=1.0).contains(&v)))
    );

    // The measured degradation opened the model's alert, naming the quality report.
    let store = ws.store().await;
    let alerts = store.alerts(true, 10).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let report = format!("mlops://quality-reports/{}", out.report_id);
    assert_eq!(alerts[0].raised_by_report, report);
    assert!(alerts[0].note.starts_with(&report), "{}", alerts[0].note);
    let listed = common::tools::list_models(&server, &agent).await;
    assert_eq!(listed.models[0].state, ModelState::QualityRetrain);
    assert!(
        ws.traces()
            .await
            .iter()
            .any(|e| e.action == "alert.opened" && e.principal == "demo-agent")
    );
    // The same verdict again: still one alert.
    let _ = check(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!(store.alerts(true, 10).await.unwrap().len(), 1);
    drop(server);

    // A second start within the day ingests no second hour of traffic.
    let again = std::process::Command::new(common::BIN)
        .args(["demo", "--no-serve", "--dir"])
        .arg(ws.path())
        .env_remove("MLOPS_MCP_CONFIG")
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("ingested"));
    let now = chrono::Utc::now();
    let rows = ws
        .ingested("fraud-detector", now - chrono::Duration::days(1), now)
        .await;
    assert_eq!(rows.len(), 3000);
}

/// With too few labels the estimate speaks, and never for retraining: a performance rule
/// failed by the estimate says `investigate` and why.
#[tokio::test]
async fn too_few_labels_fall_back_to_the_estimate_and_never_retrain() {
    let ws = Workspace::demo_with_traffic();
    ws.edit_config(|t| {
        let policy = t["models"][0]["policy"].as_table_mut().unwrap();
        policy.insert("min_labels".into(), 5000.into());
        policy.insert(
            "performance".into(),
            toml::Value::Array(vec![toml::Value::Table(
                toml::toml! { metric = "accuracy" threshold = 0.9 },
            )]),
        );
    });
    let server = HttpServer::start(&ws);
    let agent = ws.token("demo-agent", "agent");
    let out = check(&server, &agent, json!({"model": "fraud-detector"})).await;
    assert_eq!(out.recommended_action, RecommendedAction::Investigate);
    assert!(out.metrics.is_empty() && out.degraded.is_empty());
    assert!(
        out.reasons
            .iter()
            .any(|r| r == "not enough labels: 2000, at least 5000 needed (policy.min_labels)"),
        "{:?}",
        out.reasons
    );
    assert_eq!(
        out.estimated_degraded.len(),
        1,
        "{:?}",
        out.estimated_degraded
    );
    assert_eq!(out.estimated_degraded[0].metric, "accuracy");
    assert!(
        out.reasons
            .iter()
            .any(|r| r.starts_with("estimated accuracy degraded") && r.contains("wait for labels")),
        "{:?}",
        out.reasons
    );
    // No verdict of its own: no alert.
    assert!(ws.store().await.alerts(true, 10).await.unwrap().is_empty());
}
