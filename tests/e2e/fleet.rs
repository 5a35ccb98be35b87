//! A fleet with the real binary: 1,000 models declared in three lines each through
//! `[model_defaults]`, paged by `list_models` within a byte bound, triaged by
//! `needs_attention`; monitors that the server runs, raising an alert that a subscribed client
//! and a webhook hear of and that a later clean check resolves.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::tools::{self, call, error_text};
use common::{HttpServer, Workspace, tool};
use mlops_engine::alert::{Alert, AlertLevel, AlertState};
use mlops_engine::list_models::{ListModelsOutput, ModelState};
use mlops_engine::trace::Outcome;
use rmcp::model::{ProtocolVersion, ServerNotification, SubscriptionFilter};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

/// The demo with `n` more models, `fleet-0001`…, each declared by its name alone: the demo
/// model's data, features and policy come from `[model_defaults]`.
pub(crate) fn fleet_workspace(n: usize) -> Workspace {
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        let demo = t["models"][0].as_table().unwrap().clone();
        let mut defaults = toml::Table::new();
        for key in ["owner", "task", "label", "features", "policy"] {
            defaults.insert(key.into(), demo[key].clone());
        }
        defaults.insert(
            "reference_data".into(),
            "data/fraud-detector/reference.csv".into(),
        );
        defaults.insert(
            "current_data".into(),
            "data/fraud-detector/current.csv".into(),
        );
        defaults.insert("tags".into(), toml::Value::Array(vec!["fleet".into()]));
        t.insert("model_defaults".into(), defaults.into());
        let models = t["models"].as_array_mut().unwrap();
        for i in 1..=n {
            let mut m = toml::Table::new();
            m.insert("name".into(), format!("fleet-{i:04}").into());
            models.push(m.into());
        }
    });
    ws
}

#[tokio::test]
async fn a_thousand_models_page_within_bounds_and_attention_names_the_broken_ones() {
    let ws = fleet_workspace(999);
    // One model whose retraining fails, to be found by needs_attention.
    ws.edit_config(|t| {
        let models = t["models"].as_array_mut().unwrap();
        let failing = models[900].as_table_mut().unwrap();
        assert_eq!(failing["name"].as_str(), Some("fleet-0900"));
        failing.insert(
            "retrain".into(),
            toml::Value::Table(toml::toml! {
                backend = "local"
                command = ["sh", "-c", "echo broken >&2; exit 3"]
                timeout_secs = 60
                training_data = ["data/fraud-detector/reference.csv"]
            }),
        );
    });
    let shown = ws
        .command()
        .args(["check-config", "--model", "fleet-0042"])
        .output()
        .unwrap();
    let effective = String::from_utf8(shown.stdout).unwrap();
    assert!(
        effective.contains("owner = \"payments-risk\"")
            && effective.contains("data/fraud-detector/current.csv")
            && effective.contains("drift_share = 0.5")
            && effective.contains("name = \"merchant_category\""),
        "{effective}"
    );
    let server = HttpServer::start(&ws);
    let token = ws.token("fleet-agent", "agent");

    // Every model exactly once, each page's structured result within 10,000 bytes.
    let mut seen = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"page_size": 100});
        if let Some(c) = &cursor {
            args["cursor"] = c.clone().into();
        }
        let result = tool(&server, &token, "list_models", args).await;
        let bytes = serde_json::to_vec(&result["structuredContent"])
            .unwrap()
            .len();
        assert!(bytes <= 10_000, "page {pages}: {bytes} bytes");
        let page: ListModelsOutput = tools::output("list_models", &result);
        assert_eq!(page.summary.total_models, 1000);
        for m in &page.models {
            assert!(seen.insert(m.name.clone()), "{} seen twice", m.name);
        }
        pages += 1;
        assert!(pages <= 100, "paging does not end");
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1000);
    // mlops://models pages the same way.
    let read_page = |uri: String| {
        let (server, token) = (&server, &token);
        async move {
            let (_, _, body) = common::post(
                server,
                Some(&format!("Bearer {token}")),
                &common::read(&uri),
            )
            .await;
            let json: Value =
                serde_json::from_str(body["result"]["contents"][1]["text"].as_str().unwrap())
                    .unwrap();
            json
        }
    };
    let first = read_page("mlops://models".into()).await;
    assert_eq!(first["models"].as_array().unwrap().len(), 25);
    let next = first["next_page"].as_str().unwrap().to_owned();
    assert!(next.starts_with("mlops://models?cursor="), "{next}");
    let second = read_page(next).await;
    assert_eq!(second["models"][0]["name"], "fleet-0026");

    // Two models drift, one model's job fails: exactly those need attention, the failure first.
    for model in ["fleet-0007", "fleet-0500"] {
        let out = tools::check_drift(&server, &token, json!({"model": model})).await;
        assert_eq!(out.recommended_action.as_str(), "retrain");
    }
    let job = tools::trigger_retrain(
        &server,
        &token,
        json!({"model": "fleet-0900", "reason": "fleet test"}),
    )
    .await;
    let done = tools::wait_for_end(&server, &token, &job.job.id).await;
    assert_eq!(done.state.as_str(), "failed");
    let attention: ListModelsOutput = call(
        &server,
        &token,
        "list_models",
        json!({"needs_attention": true}),
    )
    .await;
    let rows: Vec<(&str, ModelState)> = attention
        .models
        .iter()
        .map(|m| (m.name.as_str(), m.state))
        .collect();
    assert_eq!(
        rows,
        [
            ("fleet-0900", ModelState::JobFailed),
            ("fleet-0007", ModelState::DriftRetrain),
            ("fleet-0500", ModelState::DriftRetrain),
        ]
    );
    assert_eq!(attention.summary.needs_attention, 3);
    assert_eq!(attention.summary.by_state["drift_retrain"], 2);
    assert!(attention.next_cursor.is_none());

    // Filters: a name, a tag; a cursor from other filters, or forged, is refused.
    let named: ListModelsOutput = call(
        &server,
        &token,
        "list_models",
        json!({"name_contains": "FLEET-09", "page_size": 5}),
    )
    .await;
    assert_eq!(named.summary.matching, 100);
    assert_eq!(named.models.len(), 5);
    let other = tool(
        &server,
        &token,
        "list_models",
        json!({"tag": "fleet", "cursor": named.next_cursor.unwrap()}),
    )
    .await;
    assert!(error_text(&other).contains("other filters"));
    let forged = tool(&server, &token, "list_models", json!({"cursor": "AAAA"})).await;
    assert!(error_text(&forged).contains("not one list_models returned"));
    let too_big = tool(&server, &token, "list_models", json!({"page_size": 101})).await;
    assert!(error_text(&too_big).contains("1 to 100"));

    // A principal limited to some models sees only those, in the summary too.
    let mut claims = ws.claims("scoped", "models:read drift:read", 600);
    claims.models = Some(vec!["fleet-00*".into()]);
    let limited = ws.keys().sign(&claims).unwrap();
    let mine: ListModelsOutput = call(&server, &limited, "list_models", json!({})).await;
    assert_eq!(mine.summary.total_models, 99);
    assert_eq!(mine.summary.needs_attention, 1);
}

/// Waits until the server logs that `model`'s alert changed to `state` (up to 60 s); the alert.
async fn alert_in(server: &HttpServer, ws: &Workspace, model: &str, state: AlertState) -> Alert {
    let (model_is, state_is) = (format!("model={model}"), format!("state={state:?}"));
    server.wait_for_line(
        &["alert changed", &model_is, &state_is],
        Duration::from_secs(60),
    );
    let alerts = ws.store().await.alerts(false, 10).await.unwrap();
    alerts
        .into_iter()
        .find(|a| a.model == model && a.state == state)
        .expect("the alert the server logged")
}

#[tokio::test]
async fn a_monitor_raises_one_alert_that_subscribers_and_webhooks_hear_and_a_clean_check_resolves()
{
    let mock = wiremock::MockServer::start().await;
    let mut hooks = crate::webhooks::receiver(&mock, "/alerts").await;
    let mut chat = crate::webhooks::receiver(&mock, "/alerts-slack").await;
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        let demo = t["models"][0].as_table_mut().unwrap();
        // Over the last hour of ingested rows, every 2 s.
        demo.insert(
            "monitor".into(),
            toml::Value::Table(toml::toml! { every = "2s" last = "1h" }),
        );
        let mut monitors = toml::Table::new();
        monitors.insert("tick_ms".into(), 200.into());
        t.insert("monitors".into(), monitors.into());
        let mut promotion = toml::Table::new();
        promotion.insert(
            "webhooks".into(),
            toml::Value::Array(vec![
                toml::Value::Table(toml::toml! {
                    url = (format!("{}/alerts", mock.uri()))
                    format = "standard"
                    secret_env = "MLOPS_TEST_WEBHOOK_SECRET"
                }),
                toml::Value::Table(toml::toml! {
                    url = (format!("{}/alerts-slack", mock.uri()))
                    format = "slack"
                }),
            ]),
        );
        t.insert("promotion".into(), promotion.into());
    });
    let server = HttpServer::start_with(
        &ws,
        &[("MLOPS_TEST_WEBHOOK_SECRET", crate::webhooks::SECRET)],
    );
    let token = ws.token("watcher", "agent");
    let writer = ws.token("pipeline", "data:write");
    let store = ws.store().await;

    // No rows yet: the monitor's runs fail, are recorded, and the scheduler goes on.
    let failed_run = [
        "monitor run finished",
        "model=fraud-detector",
        "outcome=Failed",
    ];
    for _ in 0..2 {
        server.wait_for_line(&failed_run, Duration::from_secs(30));
    }
    let failed = store
        .monitor_runs(Some("fraud-detector"), 10)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.outcome == Some(mlops_engine::monitor::RunOutcome::Failed))
        .count();
    assert!(failed >= 2, "failed runs: {failed}");
    let listed = tools::list_models(&server, &token).await;
    assert_eq!(
        listed.models[0].state,
        ModelState::MonitorFailing,
        "{listed:?}"
    );

    // A client listens for alerts.
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.as_str()).auth_header(&token),
    );
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = ().serve_with_lifecycle(transport, mode).await.unwrap();
    let filter = SubscriptionFilter::builder()
        .resource_subscriptions(vec!["mlops://alerts".to_owned()])
        .build();
    let mut subscription = client.peer().listen(filter).await.unwrap();
    assert_eq!(
        subscription.acknowledged().resource_subscriptions,
        Some(vec!["mlops://alerts".to_owned()])
    );

    // Drifted rows arrive: the next run raises one alert, at level retrain.
    let drifted = crate::drift::timestamped_csv(&ws, "current", 60, 600);
    let (status, _, body) = crate::drift::ingest(
        &server,
        Some(&writer),
        "fraud-detector",
        "text/csv",
        drifted,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let opened = alert_in(&server, &ws, "fraud-detector", AlertState::Open).await;
    assert_eq!(opened.level, AlertLevel::Retrain);
    assert_eq!(opened.opened_by, mlops_engine::monitor::PRINCIPAL);
    let notification = tokio::time::timeout(Duration::from_secs(20), subscription.next())
        .await
        .expect("no alert notification within 20 s")
        .unwrap()
        .unwrap();
    let ServerNotification::ResourceUpdatedNotification(n) = notification else {
        panic!("{notification:?}")
    };
    assert_eq!(n.params.uri, "mlops://alerts");
    // rmcp hands a notification's `_meta` over in its extensions.
    let meta = n.params.meta.clone().unwrap_or_else(|| {
        n.extensions
            .get::<rmcp::model::NotificationMetaObject>()
            .cloned()
            .unwrap_or_default()
    });
    assert_eq!(
        meta.get("mlops/model"),
        Some(&Value::from("fraud-detector"))
    );
    assert_eq!(
        meta.get("mlops/alert"),
        Some(&Value::from(format!("mlops://alerts/{}", opened.id)))
    );
    let announced = crate::webhooks::verified(&crate::webhooks::next(&mut hooks).await);
    assert_eq!(announced["type"], "alert.opened");
    assert_eq!(announced["data"]["model"], "fraud-detector");
    assert_eq!(announced["data"]["alert_id"], opened.id.as_str());
    let slack: Value =
        serde_json::from_slice(&crate::webhooks::next(&mut chat).await.body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with("*Model alert open*: `fraud-detector` — retrain"),
        "{text}"
    );
    // Later runs see the same verdict: still one alert. (The first run logged after the alert
    // change is the one that opened it.)
    let run = ["monitor run finished", "model=fraud-detector"];
    for _ in 0..3 {
        server.wait_for_line(&run, Duration::from_secs(30));
    }
    assert_eq!(store.alerts(false, 10).await.unwrap().len(), 1);
    let listed = tools::list_models(&server, &token).await;
    assert_eq!(
        listed.models[0].alert.as_deref(),
        Some(format!("mlops://alerts/{}", opened.id).as_str())
    );

    // Rows like the training data, checked by an agent over their window: the alert resolves.
    let calm = crate::drift::timestamped_csv(&ws, "reference", 3 * 3600, 600);
    let (status, _, body) =
        crate::drift::ingest(&server, Some(&writer), "fraud-detector", "text/csv", calm).await;
    assert_eq!(status, 200, "{body}");
    let from = (chrono::Utc::now() - chrono::TimeDelta::hours(4)).to_rfc3339();
    let to = (chrono::Utc::now() - chrono::TimeDelta::hours(2)).to_rfc3339();
    let clean = tools::check_drift(
        &server,
        &token,
        json!({"model": "fraud-detector", "from": from, "to": to}),
    )
    .await;
    assert_eq!(
        clean.recommended_action.as_str(),
        "none",
        "{:?}",
        clean.reasons
    );
    let resolved = store.alert(&opened.id).await.unwrap().unwrap();
    assert_eq!(resolved.state, AlertState::Resolved, "{resolved:?}");
    assert!(resolved.note.contains(&clean.report_id), "{resolved:?}");
    drop(subscription);
    client.cancel().await.unwrap();

    // Each step is traced: the monitor's checks, the opening, the resolution.
    let events = ws.traces().await;
    let of = |action: &str| events.iter().filter(|e| e.action == action).count();
    assert!(events.iter().any(|e| e.action == "check_drift"
        && e.principal == mlops_engine::monitor::PRINCIPAL
        && e.outcome == Outcome::Error));
    assert!(
        of("alert.opened") >= 1 && of("alert.resolved") >= 1,
        "{events:?}"
    );
    let resolution = events
        .iter()
        .find(|e| e.action == "alert.resolved")
        .unwrap();
    assert_eq!(resolution.principal, "watcher");
    let args: Value = serde_json::from_str(&resolution.arguments).unwrap();
    assert_eq!(args["alert_id"], opened.id.as_str());
}

/// The `check_drift` runs the monitors traced, as (model, slot) pairs.
fn monitor_checks(events: &[mlops_engine::trace::TraceEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e.action == "check_drift" && e.principal == mlops_engine::monitor::PRINCIPAL)
        .map(|e| {
            let args: Value = serde_json::from_str(&e.arguments).unwrap();
            (
                args["model"].as_str().unwrap().to_owned(),
                args["slot"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Two replicas on PostgreSQL with monitors every 2 s run each slot once; when one is killed
/// the other keeps the schedule.
#[tokio::test]
async fn two_replicas_run_each_monitor_slot_once_and_one_survives_the_other() {
    let Some(ws) = Workspace::demo_on_test_postgres().await else {
        return;
    };
    ws.edit_config(|t| {
        let demo = t["models"][0].as_table().unwrap().clone();
        let mut defaults = toml::Table::new();
        for key in [
            "owner",
            "task",
            "features",
            "policy",
            "reference_data",
            "current_data",
        ] {
            defaults.insert(key.into(), demo[key].clone());
        }
        defaults.insert(
            "monitor".into(),
            toml::Value::Table(toml::toml! { every = "2s" }),
        );
        t.insert("model_defaults".into(), defaults.into());
        let models = t["models"].as_array_mut().unwrap();
        for i in 1..=4 {
            let mut m = toml::Table::new();
            m.insert("name".into(), format!("watched-{i}").into());
            models.push(m.into());
        }
        let mut monitors = toml::Table::new();
        monitors.insert("tick_ms".into(), 100.into());
        t.insert("monitors".into(), monitors.into());
    });
    let mut a = HttpServer::start(&ws);
    let b = HttpServer::start(&ws);
    let store = ws.store().await;
    let finished = "monitor run finished";
    // Four models every 2 s: at least three slots each.
    common::wait_for_lines(&[&a, &b], finished, 12, Duration::from_secs(30));
    let runs = store.monitor_runs(None, 10_000).await.unwrap();
    let replicas: BTreeSet<&str> = runs.iter().map(|r| r.replica.as_str()).collect();
    let checks = monitor_checks(&ws.traces().await);
    let unique: BTreeSet<&(String, String)> = checks.iter().collect();
    assert_eq!(unique.len(), checks.len(), "a slot ran twice: {checks:?}");
    assert!(checks.len() >= 12);
    eprintln!("{} runs by {} replica(s)", runs.len(), replicas.len());

    // One replica dies; the other goes on claiming new slots.
    a.signal_and_wait("KILL");
    b.log_so_far();
    common::wait_for_lines(&[&b], finished, 8, Duration::from_secs(30));
    let runs = store.monitor_runs(None, 10_000).await.unwrap();
    let newest = runs.iter().map(|r| r.slot).max().unwrap();
    assert!(newest > chrono::Utc::now() - chrono::TimeDelta::seconds(5));
    let checks = monitor_checks(&ws.traces().await);
    let unique: BTreeSet<&(String, String)> = checks.iter().collect();
    assert_eq!(unique.len(), checks.len(), "a slot ran twice: {checks:?}");
    // Consecutive slots of a model are one period apart: none was skipped while one replica
    // was alive.
    for model in ["watched-1", "watched-4"] {
        let mut slots: Vec<_> = runs
            .iter()
            .filter(|r| r.model == model)
            .map(|r| r.slot)
            .collect();
        slots.sort();
        for pair in slots.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                chrono::TimeDelta::seconds(2),
                "{model}: {slots:?}"
            );
        }
    }
    drop(b);
}
