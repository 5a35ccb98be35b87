//! `check_drift` end to end: the demo's drifted data makes the real server recommend a retrain,
//! the report is stored and served, `list_models` shows the verdict, refusals are clear.

use crate::common;

use common::tools::{self, error_text, output};
use common::{HttpServer, Workspace, post, read, tool};
use mlops_engine::check_drift::{CheckDriftOutput, RecommendedAction};
use mlops_engine::drift::select::StatTest;
use mlops_engine::list_models::ModelState;
use mlops_engine::trace::Outcome;
use serde_json::{Value, json};

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
    let report: CheckDriftOutput = output("check_drift", &result);
    assert_eq!(report.recommended_action, RecommendedAction::Retrain);
    assert!(report.report.dataset_drift);
    assert!(report.report.drifted_share >= 0.5);
    assert_eq!(
        report.report.features.len(),
        7,
        "the label is not a feature"
    );
    assert!(
        report.reasons[0].contains("features drifted") && report.reasons[0].ends_with("retrain")
    );
    let id = report.report_id.clone();
    assert!(report.next_step.contains(&id));

    // The stored report is served, and list_models shows the verdict.
    let report = read(&format!("mlops://drift-reports/{id}"));
    let (_, _, body) = post(&server, Some(&format!("Bearer {token}")), &report).await;
    let markdown = body["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        markdown.contains("Recommended action: retrain") && markdown.contains("merchant_category"),
        "{markdown}"
    );
    let listed = tools::list_models(&server, &token).await;
    let row = &listed.models[0];
    assert_eq!(row.state, ModelState::DriftRetrain, "{listed:?}");
    assert!(row.next_step.as_ref().unwrap().contains(&id), "{listed:?}");
    let card = read("mlops://models/fraud-detector/card");
    let (_, _, body) = post(&server, Some(&format!("Bearer {token}")), &card).await;
    let card_md = body["result"]["contents"][0]["text"].as_str().unwrap();
    assert!(
        card_md.contains(&format!("mlops://drift-reports/{id}")) && card_md.contains("**retrain**"),
        "{card_md}"
    );

    // A narrower check: one categorical feature with a requested test.
    let one = tools::check_drift(
        &server,
        &token,
        json!({"model": "fraud-detector", "features": ["channel"], "stattest": "psi"}),
    )
    .await;
    let f = &one.report.features[0];
    assert_eq!(
        (f.name.as_str(), f.stattest),
        ("channel", Some(StatTest::Psi))
    );
    assert!(f.stattest_reason.contains("requested"));

    // Refusals an agent can act on.
    let unknown = tool(&server, &token, "check_drift", json!({"model": "churn"})).await;
    assert!(error_text(&unknown).contains("list_models"));
    let bad = tool(
        &server,
        &token,
        "check_drift",
        json!({"model": "fraud-detector", "features": ["salary"]}),
    )
    .await;
    assert!(error_text(&bad).contains("amount"), "{bad}");

    // A declared feature missing from the current file: the error names the file and column.
    let current = ws.path().join("data/fraud-detector/current.csv");
    let text = std::fs::read_to_string(&current).unwrap();
    std::fs::write(&current, text.replacen("channel", "chanel", 1)).unwrap();
    let broken = tool(
        &server,
        &token,
        "check_drift",
        json!({"model": "fraud-detector"}),
    )
    .await;
    let message = error_text(&broken);
    assert!(
        message.contains("current.csv")
            && message.contains("`channel`")
            && message.contains("chanel"),
        "{message}"
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
    let id = output::<CheckDriftOutput>("check_drift", &result).report_id;
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

/// POSTs rows to the ingest endpoint.
pub(crate) async fn ingest(
    server: &HttpServer,
    token: Option<&str>,
    model: &str,
    content_type: &str,
    body: String,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/models/{model}/records", server.base))
        .header("content-type", content_type)
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// The demo's `name.csv` as a CSV body with a `timestamp` column (rows spread over `span` seconds
/// ending `end_offset` seconds before now).
pub(crate) fn timestamped_csv(ws: &Workspace, name: &str, end_offset: i64, span: i64) -> String {
    let text =
        std::fs::read_to_string(ws.path().join(format!("data/fraud-detector/{name}.csv"))).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let now = chrono::Utc::now().timestamp();
    let mut out = format!("timestamp,{header}\n");
    for (i, row) in rows.iter().enumerate() {
        let ts = now - end_offset - span + (i as i64 * span) / rows.len() as i64;
        out.push_str(&format!("{ts},{row}\n"));
    }
    out
}

#[tokio::test]
async fn ingested_rows_are_checked_over_a_window() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let agent = ws.token("drift-agent", "models:read,drift:read");

    // Refusals: no token, wrong scope, unknown model, wrong media type, malformed rows.
    let body = timestamped_csv(&ws, "current", 60, 3600);
    let (status, headers, _) =
        ingest(&server, None, "fraud-detector", "text/csv", body.clone()).await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("resource_metadata")
    );
    let (status, headers, _) = ingest(
        &server,
        Some(&agent),
        "fraud-detector",
        "text/csv",
        body.clone(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("data:write")
    );
    let (status, _, e) = ingest(&server, Some(&writer), "churn", "text/csv", body.clone()).await;
    assert_eq!(status, 404, "{e}");
    let (status, _, _) = ingest(
        &server,
        Some(&writer),
        "fraud-detector",
        "text/plain",
        body.clone(),
    )
    .await;
    assert_eq!(status, 415);
    // One bad timestamp deep in the body: nothing of the request is stored.
    let mut lines: Vec<String> = body.lines().map(str::to_owned).collect();
    lines[500] = lines[500].replacen(|c: char| c.is_ascii_digit(), "x", 1);
    let (status, _, e) = ingest(
        &server,
        Some(&writer),
        "fraud-detector",
        "text/csv",
        lines.join("\n"),
    )
    .await;
    assert_eq!(status, 400);
    let message = e["error_description"].as_str().unwrap();
    assert!(
        message.contains("line 501") && message.contains("nothing stored"),
        "{message}"
    );
    assert!(ws.all_ingested("fraud-detector").await.is_empty());

    // The drifted current rows in the last hour, the reference rows two days ago (JSON lines).
    let (status, _, ok) = ingest(&server, Some(&writer), "fraud-detector", "text/csv", body).await;
    assert_eq!(status, 200, "{ok}");
    let current_rows = ok["accepted"].as_u64().unwrap();
    assert!(current_rows > 1000);
    let reference_csv = timestamped_csv(&ws, "reference", 2 * 86_400, 3600);
    let mut reference_lines = reference_csv.lines();
    let header: Vec<&str> = reference_lines.next().unwrap().split(',').collect();
    let jsonl: String = reference_lines
        .map(|line| {
            let object: serde_json::Map<String, Value> = header
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| {
                    let value = v
                        .parse::<f64>()
                        .map(|x| json!(x))
                        .unwrap_or_else(|_| json!(v));
                    ((*k).to_owned(), value)
                })
                .collect();
            Value::Object(object).to_string() + "\n"
        })
        .collect();
    let (status, _, ok) = ingest(
        &server,
        Some(&writer),
        "fraud-detector",
        "application/x-ndjson",
        jsonl,
    )
    .await;
    assert_eq!(status, 200, "{ok}");

    // The last two hours against the training snapshot: the same verdict as the files.
    let report = tools::check_drift(
        &server,
        &agent,
        json!({"model": "fraud-detector", "last": "2h"}),
    )
    .await;
    assert_eq!(
        report.recommended_action,
        RecommendedAction::Retrain,
        "{report:?}"
    );
    assert_eq!(
        u64::try_from(report.report.current_rows).ok(),
        Some(current_rows)
    );
    assert!(report.current_source.contains("ingested rows"));
    let from_files = tools::check_drift(&server, &agent, json!({"model": "fraud-detector"})).await;
    // Not only the verdict: every feature's test, score, threshold and effect size is the same
    // whether the rows come from the file or from the store.
    assert_eq!(
        serde_json::to_value(&from_files.report.features).unwrap(),
        serde_json::to_value(&report.report.features).unwrap()
    );
    assert_eq!(
        from_files.report.drifted_features,
        report.report.drifted_features
    );
    // The second check found the reference profile in the cache.
    assert!(from_files.reference_cached);

    // Against an ingested reference window two days ago.
    let now = chrono::Utc::now();
    let report = tools::check_drift(
        &server,
        &agent,
        json!({
            "model": "fraud-detector",
            "last": "2h",
            "reference_from": (now - chrono::Duration::days(3)).to_rfc3339(),
            "reference_to": (now - chrono::Duration::days(1)).to_rfc3339(),
        }),
    )
    .await;
    assert!(
        report.reference_source.contains("ingested rows"),
        "{report:?}"
    );
    assert_eq!(report.recommended_action, RecommendedAction::Retrain);

    // An empty window and a malformed one are clear errors.
    for (args, expected) in [
        (
            json!({"model": "fraud-detector", "from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"}),
            "no current rows",
        ),
        (
            json!({"model": "fraud-detector", "last": "soon"}),
            "duration",
        ),
    ] {
        let refused = tool(&server, &agent, "check_drift", args).await;
        assert_eq!(refused["isError"], true);
        let text = refused["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(expected), "{text}");
    }

    // Every ingest request is traced, refusals and failures included.
    let events = ws.traces().await;
    let ingests: Vec<_> = events
        .iter()
        .filter(|e| e.action == "ingest_records")
        .collect();
    assert!(ingests.iter().filter(|e| e.outcome == Outcome::Ok).count() == 2);
    assert!(ingests.iter().any(|e| e.outcome == Outcome::Error));
    assert!(
        ingests
            .iter()
            .filter(|e| e.outcome == Outcome::Refused)
            .count()
            >= 3
    );
}

#[tokio::test]
async fn a_model_without_reference_data_gets_a_clear_error() {
    let ws = Workspace::demo();
    let text = std::fs::read_to_string(&ws.config).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("reference_data"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text, without, "the demo config names its reference data");
    std::fs::write(&ws.config, without).unwrap();
    let server = HttpServer::start(&ws);
    let token = ws.token("drift-agent", "agent");
    let result = tool(
        &server,
        &token,
        "check_drift",
        json!({"model": "fraud-detector"}),
    )
    .await;
    assert_eq!(result["isError"], true);
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("fraud-detector") && text.contains("reference_data"),
        "{text}"
    );
}

/// A handful of drifted rows is noise, not a reason to retrain: below the policy's `min_rows`
/// the check answers "insufficient data" and recommends nothing.
#[tokio::test]
async fn too_few_rows_give_no_verdict() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let agent = ws.token("drift-agent", "models:read,drift:read");
    let body = timestamped_csv(&ws, "current", 60, 3600);
    // The last rows of the drifted current data, so they carry its new category too.
    let mut lines: Vec<&str> = body.lines().collect();
    let header = lines.remove(0);
    // 2 rows, then 97 more: 99 in the window, one short of the default 100.
    for (n, total) in [(2usize, 2u64), (97, 99)] {
        let rows = lines[lines.len() - n..].join("\n");
        let (status, _, ok) = ingest(
            &server,
            Some(&writer),
            "fraud-detector",
            "text/csv",
            format!("{header}\n{rows}\n"),
        )
        .await;
        assert_eq!(status, 200, "{ok}");
        let report = tools::check_drift(
            &server,
            &agent,
            json!({"model": "fraud-detector", "last": "5m"}),
        )
        .await;
        assert_eq!(
            report.recommended_action,
            RecommendedAction::None,
            "{report:?}"
        );
        assert!(!report.report.dataset_drift, "{report:?}");
        assert_eq!(u64::try_from(report.report.current_rows).ok(), Some(total));
        assert_eq!(
            report.reasons[0],
            format!(
                "insufficient data: {total} rows, at least 100 needed (the current sample; \
                 policy.min_rows); no verdict"
            )
        );
    }
    // The model's policy sets the bound: at 50 the same 99 rows get a verdict.
    drop(server);
    ws.edit_config(|config| {
        let models = config["models"].as_array_mut().unwrap();
        let policy = models[0]["policy"].as_table_mut().unwrap();
        policy.insert("min_rows".into(), 50.into());
    });
    let server = HttpServer::start(&ws);
    let report = tools::check_drift(
        &server,
        &agent,
        json!({"model": "fraud-detector", "last": "5m"}),
    )
    .await;
    assert!(report.reasons[0].contains("features drifted"), "{report:?}");
}

/// Ingest takes only what the model can use: timestamps within the configured bounds, its
/// declared columns (others dropped and named, or refused), and no more rows than its budget.
/// A refused request stores nothing.
#[tokio::test]
async fn ingest_refuses_bad_times_and_bounds_columns_and_rows() {
    let ws = Workspace::demo();
    ws.edit_config(|config| {
        let limits = config
            .entry("limits")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap();
        limits.insert("max_rows_per_model".into(), 10.into());
    });
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let stored = || async {
        ws.all_ingested("fraud-detector")
            .await
            .into_iter()
            .map(|r| serde_json::Value::Object(r.data).to_string())
            .collect::<Vec<_>>()
    };
    let now = chrono::Utc::now().timestamp();
    let row = |ts: &str| format!("{ts},4.04,19.96,110.7,378,4,fuel,mobile,0");
    let header = "timestamp,amount,hour,distance_km,account_age_days,tx_count_24h,merchant_category,channel,is_fraud";

    for (ts, says) in [
        ("9999-01-01T00:00:00Z", "in the future"),
        (&(now + 3600).to_string()[..], "in the future"),
        ("1990-01-01T00:00:00Z", "older than"),
    ] {
        let body = format!("{header}\n{}\n{}\n", row(&now.to_string()), row(ts));
        let (status, _, e) =
            ingest(&server, Some(&writer), "fraud-detector", "text/csv", body).await;
        assert_eq!(status, 400, "{ts}: {e}");
        let message = e["error_description"].as_str().unwrap();
        assert!(
            message.contains("line 3") && message.contains(says),
            "{message}"
        );
    }
    assert!(stored().await.is_empty());

    // An undeclared column is dropped from what is stored, and named.
    let padded = format!(
        "{{\"timestamp\": {now}, \"amount\": 1.5, \"pad\": \"{}\"}}\n",
        "x".repeat(2000)
    );
    let (status, _, ok) = ingest(
        &server,
        Some(&writer),
        "fraud-detector",
        "application/x-ndjson",
        padded.clone(),
    )
    .await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["dropped_columns"], json!(["pad"]));
    assert_eq!(stored().await, [r#"{"amount":1.5}"#]);

    // The budget: 9 more fit, the 11th row does not, and a refused request stores nothing.
    let nine: String = (0..9).map(|_| row(&now.to_string()) + "\n").collect();
    let (status, _, ok) = ingest(
        &server,
        Some(&writer),
        "fraud-detector",
        "text/csv",
        format!("{header}\n{nine}"),
    )
    .await;
    assert_eq!(status, 200, "{ok}");
    let one = format!("{header}\n{}\n", row(&now.to_string()));
    let (status, _, e) = ingest(&server, Some(&writer), "fraud-detector", "text/csv", one).await;
    assert_eq!(status, 507, "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("max_rows_per_model"),
        "{e}"
    );
    assert_eq!(stored().await.len(), 10);
    let refused = ws
        .traces()
        .await
        .into_iter()
        .filter(|e| e.action == "ingest_records" && e.outcome != Outcome::Ok)
        .count();
    assert_eq!(refused, 4);
    drop(server);

    // Configured to refuse undeclared columns: the padded row is refused whole. The model's
    // own budget (12) overrides the server's (10): two more rows fit, a third does not.
    ws.edit_config(|config| {
        let limits = config["limits"].as_table_mut().unwrap();
        limits.insert("ingest_unknown_columns".into(), "refuse".into());
        let models = config["models"].as_array_mut().unwrap();
        let policy = models[0]["policy"].as_table_mut().unwrap();
        policy.insert("max_ingested_rows".into(), 12.into());
    });
    let server = HttpServer::start(&ws);
    let (status, _, e) = ingest(
        &server,
        Some(&writer),
        "fraud-detector",
        "application/x-ndjson",
        padded,
    )
    .await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("column `pad` is not declared"),
        "{e}"
    );
    assert_eq!(stored().await.len(), 10);
    let two = format!(
        "{header}\n{}\n{}\n",
        row(&now.to_string()),
        row(&now.to_string())
    );
    let (status, _, ok) = ingest(&server, Some(&writer), "fraud-detector", "text/csv", two).await;
    assert_eq!(status, 200, "{ok}");
    let one = format!("{header}\n{}\n", row(&now.to_string()));
    let (status, _, e) = ingest(&server, Some(&writer), "fraud-detector", "text/csv", one).await;
    assert_eq!(status, 507, "{e}");
    assert_eq!(stored().await.len(), 12);
}

async fn ingest_encoded(
    server: &HttpServer,
    token: &str,
    encoding: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/models/fraud-detector/records", server.base))
        .header("content-type", "text/csv")
        .header("content-encoding", encoding)
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Pipelines may compress their batches (gzip, zstd): the rows are stored as if sent plain. A
/// body that would expand past `http.max_ingest_bytes`, a body that is not what its encoding
/// says, and an unknown encoding are refused; nothing is stored and each refusal is traced.
#[tokio::test]
async fn compressed_batches_are_accepted_and_bombs_refused() {
    use std::io::Write as _;
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        t["http"]
            .as_table_mut()
            .unwrap()
            .insert("max_ingest_bytes".into(), (2 << 20).into());
    });
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let csv = timestamped_csv(&ws, "current", 60, 600);
    let rows = csv.lines().count() - 1;

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() * 2 < csv.len());
    let (status, body) = ingest_encoded(&server, &writer, "gzip", gz).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"].as_u64(), Some(rows as u64), "{body}");
    let zst = zstd::encode_all(csv.as_bytes(), 3).unwrap();
    let (status, body) = ingest_encoded(&server, &writer, "zstd", zst).await;
    assert_eq!(status, 200, "{body}");

    let now = chrono::Utc::now();
    let stored = || async {
        ws.ingested("fraud-detector", now - chrono::Duration::days(1), now)
            .await
            .len()
    };
    assert_eq!(stored().await, 2 * rows);

    // 64 MB of one repeated row: a few hundred kB of gzip, refused once it passes 2 MiB.
    let line = csv.lines().nth(1).unwrap();
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(format!("{}\n", csv.lines().next().unwrap()).as_bytes())
        .unwrap();
    for _ in 0..(64 << 20) / line.len() {
        bomb.write_all(line.as_bytes()).unwrap();
        bomb.write_all(b"\n").unwrap();
    }
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    for (encoding, body, status, says) in [
        ("gzip", bomb, 413, "expands to more than 2097152 bytes"),
        ("zstd", b"not zstd".to_vec(), 400, "not valid zstd"),
        ("br", b"x".to_vec(), 415, "Content-Encoding is not accepted"),
    ] {
        let (got, body) = ingest_encoded(&server, &writer, encoding, body).await;
        assert_eq!(got, status, "{encoding}: {body}");
        assert!(body.to_string().contains(says), "{body}");
    }
    assert_eq!(stored().await, 2 * rows, "nothing stored by a refusal");
    let refused = ws
        .traces()
        .await
        .into_iter()
        .filter(|e| e.action == "ingest_records" && e.outcome == Outcome::Refused)
        .count();
    assert_eq!(refused, 3);
}

/// `policy.retain`: the server's sweep deletes the ingested rows older than it (traced by its
/// own principal), keeps the newer ones, and `/metrics` reports what each model holds.
#[tokio::test]
async fn retention_deletes_old_rows_and_metrics_report_what_is_held() {
    let ws = Workspace::demo();
    ws.edit_config(|t| {
        t["models"][0]["policy"]
            .as_table_mut()
            .unwrap()
            .insert("retain".into(), "30d".into());
        t.entry("limits")
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .unwrap()
            .insert("retention_sweep_secs".into(), 1.into());
    });
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let old = timestamped_csv(&ws, "current", 40 * 86_400, 600);
    let new = timestamped_csv(&ws, "reference", 60, 600);
    let (old_rows, new_rows) = (old.lines().count() - 1, new.lines().count() - 1);
    for body in [old, new] {
        let (status, _, body) =
            ingest(&server, Some(&writer), "fraud-detector", "text/csv", body).await;
        assert_eq!(status, 200, "{body}");
    }
    // Sweeps run every second; the first after the ingest deletes the old rows.
    let mut line = String::new();
    for _ in 0..10 {
        line = server.wait_for_log("retention sweep done", std::time::Duration::from_secs(30));
        if !line.contains("rows=0") {
            break;
        }
    }
    assert!(line.contains(&format!("rows={old_rows}")), "{line}");
    let store = ws.store().await;
    let held = store.held_records().await.unwrap();
    assert_eq!(
        held.iter()
            .map(|h| (h.model.as_str(), h.rows))
            .collect::<Vec<_>>(),
        [("fraud-detector", new_rows as u64)]
    );
    // The old block's file is gone: the block directory holds exactly what the catalog names.
    let mut catalogued = store.block_files().await.unwrap();
    let mut on_disk: Vec<String> = std::fs::read_dir(ws.path().join("mlops-mcp.db.blocks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    catalogued.sort();
    on_disk.sort();
    assert_eq!(catalogued.len(), 1);
    assert_eq!(on_disk, catalogued);
    let events = ws.traces().await;
    let pruned = events
        .iter()
        .find(|e| e.action == "retention.pruned")
        .expect("the sweep is traced");
    assert_eq!(pruned.principal, "mlops-mcp:retention");
    assert!(
        pruned
            .rationale
            .starts_with(&format!("{old_rows} ingested rows")),
        "{}",
        pruned.rationale
    );
    let reader = ws.token("reader", "models:read");
    let card = common::tools::model_card(&server, &reader, "fraud-detector").await;
    assert_eq!(card.ingested_rows, new_rows as u64);
    let scraper = ws.token("scraper", "metrics:read");
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.base))
        .bearer_auth(scraper)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "mlops_ingested_rows{{model=\"fraud-detector\"}} {new_rows}"
        )),
        "{metrics}"
    );
    let bytes = held[0].bytes;
    assert!(bytes > 0 && card.ingested_bytes == bytes);
    assert!(
        metrics.contains(&format!(
            "mlops_ingested_bytes{{model=\"fraud-detector\"}} {bytes}"
        )),
        "{metrics}"
    );
}

/// Many small requests leave many small blocks; the sweep merges them into one, the window
/// still reports as the file of its rows, and the directory holds only the merged block.
#[tokio::test]
async fn small_blocks_are_compacted_and_report_the_same() {
    let ws = Workspace::demo();
    let writer = ws.token("pipeline", "data:write");
    let agent = ws.token("drift-agent", "models:read,drift:read");
    let csv = timestamped_csv(&ws, "current", 60, 3600);
    let (header, rows) = csv.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    let server = HttpServer::start(&ws);
    for chunk in rows.chunks(500) {
        let body = format!("{header}\n{}\n", chunk.join("\n"));
        let (status, _, ok) =
            ingest(&server, Some(&writer), "fraud-detector", "text/csv", body).await;
        assert_eq!(status, 200, "{ok}");
    }
    let store = ws.store().await;
    let (min, max) = (
        chrono::DateTime::<chrono::Utc>::MIN_UTC,
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    );
    assert_eq!(
        store
            .blocks("fraud-detector", min, max)
            .await
            .unwrap()
            .len(),
        6
    );
    drop(server);
    // The sweep at start-up compacts.
    let server = HttpServer::start(&ws);
    let line = server.wait_for_log("retention sweep done", std::time::Duration::from_secs(30));
    assert!(
        line.contains("merged=6") && line.contains("written=1"),
        "{line}"
    );
    let left = store.blocks("fraud-detector", min, max).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].rows, rows.len() as u64);
    let on_disk: Vec<String> = std::fs::read_dir(ws.path().join("mlops-mcp.db.blocks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(on_disk, store.block_files().await.unwrap());
    window_reports_as_the_file(&server, &agent).await;
}

/// Rows an earlier version stored one JSON text each are converted to blocks at start-up, with
/// their late labels still joined.
#[tokio::test]
async fn rows_stored_before_blocks_are_converted_at_start_up() {
    let ws = Workspace::demo();
    drop(HttpServer::start(&ws));
    let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
        .await
        .unwrap();
    let at = chrono::Utc::now() - chrono::Duration::minutes(30);
    for (i, data) in [
        r#"{"id":"legacy-1","amount":12.5,"channel":"web"}"#,
        r#"{"amount":3,"channel":"pos"}"#,
        r#"{"amount":null,"channel":"web"}"#,
    ]
    .iter()
    .enumerate()
    {
        sqlx::query(
            "INSERT INTO records (model, ts_us, data, batch, ingested_at, row_id) \
             VALUES ('fraud-detector', $1, $2, 'old', $3, $4)",
        )
        .bind(at.timestamp_micros() + i as i64)
        .bind(*data)
        .bind(at.to_rfc3339())
        .bind((i == 0).then_some("legacy-1"))
        .execute(store.pool())
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO labels (model, row_id, label, labelled_at, received_at) \
         VALUES ('fraud-detector', 'legacy-1', '1', NULL, $1)",
    )
    .bind(at.to_rfc3339())
    .execute(store.pool())
    .await
    .unwrap();
    let server = HttpServer::start(&ws);
    server.wait_for_log(
        "rows stored before blocks converted to blocks",
        std::time::Duration::from_secs(30),
    );
    let rows = ws.all_ingested("fraud-detector").await;
    let amounts: Vec<Value> = rows.iter().map(|r| r.data["amount"].clone()).collect();
    assert_eq!(amounts, [json!(12.5), json!(3.0), Value::Null]);
    assert!(rows[0].late_label.is_some() && rows[1].late_label.is_none());
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM records")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// `check_drift` over the last two hours of ingested rows reports, feature by feature, what the
/// model's current file of the same rows does.
async fn window_reports_as_the_file(server: &HttpServer, agent: &str) {
    let window = tools::check_drift(
        server,
        agent,
        json!({"model": "fraud-detector", "last": "2h"}),
    )
    .await;
    let file = tools::check_drift(server, agent, json!({"model": "fraud-detector"})).await;
    assert!(window.current_source.contains("ingested rows"));
    assert_eq!(window.report.current_rows, file.report.current_rows);
    assert_eq!(
        serde_json::to_value(&file.report.features).unwrap(),
        serde_json::to_value(&window.report.features).unwrap()
    );
}

/// The same on PostgreSQL: an ingested window and the file of the same rows give the same
/// per-feature report.
#[tokio::test]
async fn an_ingested_window_reports_as_its_file_on_postgres() {
    let Some(ws) = Workspace::demo_on_test_postgres().await else {
        return;
    };
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let agent = ws.token("drift-agent", "models:read,drift:read");
    let body = timestamped_csv(&ws, "current", 60, 3600);
    let (status, _, ok) = ingest(&server, Some(&writer), "fraud-detector", "text/csv", body).await;
    assert_eq!(status, 200, "{ok}");
    window_reports_as_the_file(&server, &agent).await;
}

/// The demo's `name.csv` as a Parquet body: a `timestamp` column (TIMESTAMP(NANOS), pandas'
/// default, the rows
/// spread over the last `span` seconds ending a minute ago) and the seven features.
fn parquet_body(ws: &Workspace, name: &str, span: i64) -> (Vec<u8>, usize) {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    let text =
        std::fs::read_to_string(ws.path().join(format!("data/fraud-detector/{name}.csv"))).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    let n = rows.len();
    let schema = std::sync::Arc::new(
        parse_message_type(
            "message m { required int64 timestamp (TIMESTAMP(NANOS,true)); \
             required double amount; required double hour; required double distance_km; \
             required double account_age_days; required double tx_count_24h; \
             required binary merchant_category (UTF8); required binary channel (UTF8); }",
        )
        .unwrap(),
    );
    let mut out = Vec::new();
    let props = std::sync::Arc::new(WriterProperties::builder().build());
    let mut w = SerializedFileWriter::new(&mut out, schema, props).unwrap();
    let mut g = w.next_row_group().unwrap();
    let end = chrono::Utc::now().timestamp_micros() - 60_000_000;
    let ts: Vec<i64> = (0..n as i64)
        .map(|i| (end - span * 1_000_000 + i * span * 1_000_000 / n as i64) * 1_000)
        .collect();
    let mut col = g.next_column().unwrap().unwrap();
    col.typed::<Int64Type>()
        .write_batch(&ts, None, None)
        .unwrap();
    col.close().unwrap();
    for k in 0..5 {
        let xs: Vec<f64> = rows.iter().map(|r| r[k].parse().unwrap()).collect();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<DoubleType>()
            .write_batch(&xs, None, None)
            .unwrap();
        col.close().unwrap();
    }
    for k in 5..7 {
        let cs: Vec<ByteArray> = rows
            .iter()
            .map(|r| ByteArray::from(r[k].as_str()))
            .collect();
        let mut col = g.next_column().unwrap().unwrap();
        col.typed::<ByteArrayType>()
            .write_batch(&cs, None, None)
            .unwrap();
        col.close().unwrap();
    }
    g.close().unwrap();
    w.close().unwrap();
    (out, n)
}

/// Sends `body` as `content_type` to the demo model's records endpoint: the status and answer.
async fn send_body(
    server: &HttpServer,
    writer: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/models/fraud-detector/records", server.base))
        .header("content-type", content_type)
        .bearer_auth(writer)
        .body(body)
        .send()
        .await
        .unwrap();
    (
        r.status().as_u16(),
        r.json::<Value>().await.unwrap_or(Value::Null),
    )
}

/// A Parquet body is ingested as its rows: a window over them reports as the CSV file of the
/// same rows does. A body that is not Parquet is refused, nothing stored.
#[tokio::test]
async fn parquet_batches_are_ingested_as_their_rows() {
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let agent = ws.token("drift-agent", "models:read,drift:read");
    let send = |body: Vec<u8>| send_body(&server, &writer, "application/vnd.apache.parquet", body);
    let (status, body) = send(b"PAR1 not really".to_vec()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("not a Parquet file"), "{body}");
    let (parquet, rows) = parquet_body(&ws, "current", 3600);
    let (status, body) = send(parquet).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"].as_u64(), Some(rows as u64), "{body}");
    window_reports_as_the_file(&server, &agent).await;
}

/// An Arrow IPC stream body (timestamps in nanoseconds, categories dictionary-encoded, as
/// pyarrow writes a pandas frame) is ingested as its rows: a window over them reports as the
/// CSV file of the same rows. A body that is not an Arrow stream is refused.
#[tokio::test]
async fn arrow_stream_batches_are_ingested_as_their_rows() {
    use arrow_array::types::Int32Type;
    use arrow_array::{
        Array, DictionaryArray, Float64Array, RecordBatch, TimestampNanosecondArray,
    };
    use std::sync::Arc;
    let ws = Workspace::demo();
    let server = HttpServer::start(&ws);
    let writer = ws.token("pipeline", "data:write");
    let agent = ws.token("drift-agent", "models:read,drift:read");
    let text = std::fs::read_to_string(ws.path().join("data/fraud-detector/current.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let n = rows.len() as i64;
    let end = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 60_000_000_000;
    let ts: Vec<i64> = (0..n)
        .map(|i| end - 3_600_000_000_000 + i * 3_600_000_000_000 / n)
        .collect();
    let mut columns: Vec<(&str, Arc<dyn Array>)> = vec![(
        "timestamp",
        Arc::new(TimestampNanosecondArray::from(ts).with_timezone("UTC")),
    )];
    for (k, name) in header.iter().enumerate().take(7) {
        let column: Arc<dyn Array> = if k < 5 {
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r[k].parse::<f64>().unwrap()),
            ))
        } else {
            Arc::new(
                rows.iter()
                    .map(|r| r[k])
                    .collect::<DictionaryArray<Int32Type>>(),
            )
        };
        columns.push((name, column));
    }
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut body = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut body, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    let send = |body: Vec<u8>| {
        send_body(
            &server,
            &writer,
            "application/vnd.apache.arrow.stream",
            body,
        )
    };
    let (status, answer) = send(b"ARROW1 not really".to_vec()).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.to_string().contains("not an Arrow IPC stream"),
        "{answer}"
    );
    let (status, answer) = send(body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"].as_u64(), Some(n as u64), "{answer}");
    window_reports_as_the_file(&server, &agent).await;
}
