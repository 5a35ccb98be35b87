//! A model's current data as a partitioned Parquet dataset where it already lives: on local
//! disk and on an S3-compatible server (moto's server mode on loopback, `MLOPS_TEST_S3`, started
//! by `.ci/run`). A window reads only the day partitions it meets (moto's request recorder
//! counts the objects read), and the report equals the same dataset read locally. Credentials
//! stay out of answers, traces and logs.

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::common::{self, HttpServer, Workspace, datasets, tool, tools};

const SECRET: &str = "never-shown-9f1c2e";

/// Points the demo model's current data at `data`, its rows' times in `ts`.
fn current_data(ws: &Workspace, data: &str) {
    ws.edit_config(|t| {
        let model = t["models"].as_array_mut().unwrap()[0]
            .as_table_mut()
            .unwrap();
        model.insert("current_data".into(), data.into());
        model.insert("time_column".into(), "ts".into());
    });
}

/// The GETs of objects under `/{bucket}/` in moto's recording (listings are GETs of the
/// bucket itself).
fn objects_read(recording: &str, bucket: &str) -> Vec<String> {
    recording
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["method"] == "GET")
        .filter_map(|e| e["url"].as_str().map(str::to_owned))
        .filter_map(|url| {
            let path = url.split_once("://").map_or(url.as_str(), |(_, rest)| {
                rest.find('/').map_or("", |i| &rest[i..])
            });
            let key = path
                .split('?')
                .next()?
                .strip_prefix(&format!("/{bucket}/"))?;
            // The client percent-encodes `=` in keys.
            (!key.is_empty()).then(|| key.replace("%3D", "="))
        })
        .collect()
}

async fn moto(http: &reqwest::Client, s3: &str, action: &str) -> String {
    let r = http
        .post(format!("{s3}/moto-api/recorder/{action}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{action}: {}", r.status());
    r.text().await.unwrap()
}

#[tokio::test]
async fn a_window_over_a_dataset_on_s3_reads_only_its_partitions() {
    let Some(s3) = common::service_url("MLOPS_TEST_S3", "tests/s3/start.sh (moto server)") else {
        return;
    };
    let ws = Workspace::demo();
    let agent = ws.token("drift-agent", "models:read,drift:read");
    let today = Utc::now().date_naive();
    let days: Vec<NaiveDate> = (0..5).rev().map(|i| today - Duration::days(i)).collect();
    let local = ws.path().join("preds");
    let csv = ws.path().join("data/fraud-detector/current.csv");
    let files = datasets::write_partitioned(&csv, &local, &days, 2);

    // The same files in a fresh bucket (moto takes unsigned requests).
    let http = reqwest::Client::new();
    let bucket = format!("preds-{}", std::process::id());
    assert!(
        http.put(format!("{s3}/{bucket}"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    for f in &files {
        let body = std::fs::read(local.join(f)).unwrap();
        let url = format!("{s3}/{bucket}/fraud/{}", f.display());
        assert!(
            http.put(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        );
    }
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT", s3.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];

    // Locally: `last = 1d` meets today's and yesterday's partitions.
    current_data(&ws, &local.display().to_string());
    let server = HttpServer::start(&ws);
    let on_disk = tools::check_drift(
        &server,
        &agent,
        json!({"model": "fraud-detector", "last": "1d"}),
    )
    .await;
    assert!(
        on_disk.current_source.contains("2 of 5 objects"),
        "{}",
        on_disk.current_source
    );
    drop(server);

    // On S3: the same two objects read, and the same report.
    current_data(&ws, &format!("s3://{bucket}/fraud/"));
    let server = HttpServer::start_with(&ws, &env);
    moto(&http, &s3, "reset-recording").await;
    moto(&http, &s3, "start-recording").await;
    let on_s3 = tools::check_drift(
        &server,
        &agent,
        json!({"model": "fraud-detector", "last": "1d"}),
    )
    .await;
    moto(&http, &s3, "stop-recording").await;
    let recording = http
        .get(format!("{s3}/moto-api/recorder/download-recording"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut read = objects_read(&recording, &bucket);
    read.sort();
    let expected: Vec<String> = days[3..]
        .iter()
        .map(|d| format!("fraud/dt={}/part-0.parquet", d.format("%Y-%m-%d")))
        .collect();
    assert_eq!(read, expected, "only the window's partitions are read");
    assert!(
        on_s3
            .current_source
            .contains(&format!("s3://{bucket}/fraud/")),
        "{}",
        on_s3.current_source
    );
    assert_eq!(on_s3.report.current_rows, on_disk.report.current_rows);
    assert_eq!(
        serde_json::to_value(&on_s3.report.features).unwrap(),
        serde_json::to_value(&on_disk.report.features).unwrap()
    );

    // A window within one day's first half: one object, one of its two row groups (by the
    // statistics of `ts`).
    let from = days[1].and_hms_opt(1, 0, 0).unwrap().and_utc();
    let narrow = tools::check_drift(
        &server,
        &agent,
        json!({"model": "fraud-detector", "from": from, "to": from + Duration::hours(5)}),
    )
    .await;
    assert!(
        narrow
            .current_source
            .contains("1 of 5 objects, 1 of 2 row groups"),
        "{}",
        narrow.current_source
    );
    assert!(narrow.report.current_rows < on_s3.report.current_rows);
    drop(server);

    // A bucket that is not there: a clear error, without the credentials.
    current_data(&ws, "s3://no-such-bucket/fraud/");
    let server = HttpServer::start_with(&ws, &env);
    let refused = tool(
        &server,
        &agent,
        "check_drift",
        json!({"model": "fraud-detector", "last": "1d"}),
    )
    .await;
    let message = tools::error_text(&refused);
    assert!(message.contains("s3://no-such-bucket/fraud/"), "{message}");
    assert!(
        !message.contains(SECRET) && !message.contains("testing"),
        "{message}"
    );
    let traces = serde_json::to_string(&ws.traces().await).unwrap();
    assert!(!traces.contains(SECRET));
    assert!(!server.log_so_far().contains(SECRET));
}
