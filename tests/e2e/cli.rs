//! The command line: init / check-config, configuration errors (exit 2, naming the field),
//! token issue, the demo's reuse of its workspace, and `traces verify`.

use crate::common;

use std::process::{Command, Output};

use common::{BIN, HttpServer, Workspace};

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("MLOPS_MCP_CONFIG")
        .env_remove("MLOPS_MCP_AUTH__HS256_SECRET")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn init_writes_a_valid_commented_starter() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["init"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("mlops-mcp.toml")).unwrap();
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() > 20,
        "the starter is commented"
    );
    let check = run(&["check-config"], dir.path());
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains("configuration is valid"));
    // Refuses to overwrite.
    assert!(!run(&["init"], dir.path()).status.success());
}

#[test]
fn config_schema_describes_every_section_and_key_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["config-schema"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = schema["properties"].as_object().unwrap();
    for section in [
        "store",
        "http",
        "auth",
        "stdio",
        "limits",
        "trace",
        "jobs",
        "promotion",
        "models",
    ] {
        assert!(top.contains_key(section), "no `{section}` in {top:?}");
    }
    // Unknown keys are errors to the server, so the schema says so too.
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    let text = String::from_utf8_lossy(&out.stdout);
    for key in [
        "hs256_secret",
        "max_token_lifetime_secs",
        "allowed_params",
        "drift_share",
    ] {
        assert!(
            text.contains(&format!("\"{key}\"")),
            "no `{key}` in the schema"
        );
    }
    // Every key the starter file sets is in the schema.
    run(&["init"], dir.path());
    let starter: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.path().join("mlops-mcp.toml")).unwrap())
            .unwrap();
    for (section, value) in &starter {
        assert!(
            top.contains_key(section),
            "starter sets unknown `{section}`"
        );
        if let Some(table) = value.as_table() {
            for key in table.keys() {
                assert!(
                    text.contains(&format!("\"{key}\"")),
                    "no `{section}.{key}` in the schema"
                );
            }
        }
    }
}

#[test]
fn bad_configuration_exits_2_and_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[http]\nbindd = \"127.0.0.1:1\"\n", "bindd"),
        ("[http]\nbind = \"not an address\"\n", "bind"),
        (
            "[[models]]\nname = \"m\"\n[models.policy]\ndrift_share = 2.0\n",
            "models[0].policy.drift_share",
        ),
        ("[[models]]\nname = \"bad name!\"\n", "models[0].name"),
        ("[auth]\nhs256_secret = \"short\"\n", "auth.hs256_secret"),
        (
            "[stdio]\nscopes = [\"promotion:approve\"]\n",
            "stdio.scopes[0]",
        ),
        (
            "[http]\nallowed_origins = [\"example.com\"]\n",
            "http.allowed_origins[0]",
        ),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = run(
            &["--config", path.to_str().unwrap(), "check-config"],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(stderr(&out).contains(field), "{text}: {}", stderr(&out));
    }
    let missing = run(&["--config", "nope.toml", "serve"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("nope.toml"));

    // HTTP without a secret is a configuration error too.
    std::fs::write(dir.path().join("plain.toml"), "").unwrap();
    let out = run(
        &["--config", "plain.toml", "serve", "--http", "127.0.0.1:0"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("auth.hs256_secret") && stderr(&out).contains("auth.jwks_url"));
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mlops-mcp.toml"),
        "[http]\nbind = \"127.0.0.1:1111\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .current_dir(dir.path())
        .env_remove("MLOPS_MCP_CONFIG")
        .env("MLOPS_MCP_HTTP__BIND", "127.0.0.1:2222")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("127.0.0.1:2222"));
}

#[test]
fn token_issue_signs_for_the_configured_secret() {
    let ws = Workspace::demo();
    let token = ws.token("carol", "models:read,drift:read");
    let principal = ws.keys().verify(&token).unwrap();
    assert_eq!(principal.subject, "carol");
    assert_eq!(
        principal
            .scopes
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["drift:read", "models:read"]
    );
    let bad = ws
        .command()
        .args(["token", "issue", "--sub", "x", "--scopes", "root"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unknown scope"));
    // A padded subject would pass for another principal; a lifetime past the server's bound
    // would be refused by it.
    for (args, says) in [
        (
            ["--sub", "demo-agent ", "--ttl", "8h"],
            "surrounding whitespace",
        ),
        (["--sub", " alice", "--ttl", "8h"], "surrounding whitespace"),
        (
            ["--sub", "alice", "--ttl", "25h"],
            "max_token_lifetime_secs",
        ),
    ] {
        let out = ws
            .command()
            .args(["token", "issue", "--scopes", "models:read"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn demo_twice_reuses_the_workspace() {
    let ws = Workspace::demo();
    let secret = ws.secret();
    let reference = std::fs::read(ws.path().join("data/fraud-detector/reference.csv")).unwrap();
    let before = ws.model("fraud-detector").await;
    let again = Command::new(BIN)
        .args(["demo", "--no-serve", "--dir"])
        .arg(ws.path())
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(ws.secret(), secret, "the secret is kept");
    assert_eq!(
        std::fs::read(ws.path().join("data/fraud-detector/reference.csv")).unwrap(),
        reference
    );
    let after = ws.model("fraud-detector").await;
    assert_eq!(
        before.versions, after.versions,
        "v1 is registered once and unchanged"
    );
    assert_eq!(after.aliases.len(), 1);
    let rows =
        std::fs::read_to_string(ws.path().join("data/fraud-detector/reference.csv")).unwrap();
    let header = rows.lines().next().unwrap();
    assert_eq!(
        header.split(',').count(),
        8,
        "7 features and the label: {header}"
    );
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("\"mcpServers\"") && stdout.contains("--method tools/list"));
}

#[tokio::test]
async fn traces_verify_detects_an_edited_event() {
    let ws = Workspace::demo();
    {
        let server = HttpServer::start(&ws);
        let token = ws.token("agent", "agent");
        for _ in 0..3 {
            let response = reqwest::Client::new()
                .post(&server.url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_models","arguments":{}}}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert!(response.text().await.unwrap().contains("fraud-detector"));
        }
    }
    let verify = ws.command().args(["traces", "verify"]).output().unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let out = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(out.contains("3 events verified"), "{out}");

    // Export for a SIEM: JSON lines, oldest first, with the chain's hashes; resumable.
    let export = |args: &[&str]| {
        let out = ws
            .command()
            .args(["traces", "export"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, all) = export(&[]);
    assert_eq!(code, Some(0));
    let events: Vec<serde_json::Value> = all
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        events
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        events
            .iter()
            .all(|e| e["action"] == "list_models" && e["principal"] == "agent")
    );
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);
    let (_, rest) = export(&["--after-seq", "2"]);
    assert_eq!(rest.lines().count(), 1);
    assert!(rest.contains(r#""seq":3"#));
    let (_, future) = export(&["--since", "2999-01-01T00:00:00Z"]);
    assert!(future.is_empty());
    let (_, past) = export(&["--since", "2000-01-01T00:00:00Z", "--format", "jsonl"]);
    assert_eq!(past, all);
    let (code, _) = export(&["--since", "yesterday"]);
    assert_eq!(code, Some(2));

    let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
        .await
        .unwrap();
    sqlx::query("UPDATE trace_events SET principal = 'nobody' WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let verify = ws.command().args(["traces", "verify"]).output().unwrap();
    assert_eq!(verify.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("BROKEN at event 2"));
}

/// The server signs a checkpoint of the chain's head; `traces verify` sees the newest events
/// deleted, which the chain alone cannot show.
#[tokio::test]
async fn traces_verify_sees_a_deleted_tail() {
    let ws = Workspace::demo();
    {
        let server = HttpServer::start_with(
            &ws,
            &[("MLOPS_MCP_LOG", "info,mlops_engine::trace_checkpoint=debug")],
        );
        let token = ws.token("agent", "models:read");
        for _ in 0..5 {
            common::tool(&server, &token, "list_models", serde_json::json!({})).await;
        }
        // The checkpoint trails the commits: wait for the writer to say it wrote the head.
        let head = ws.traces().await.last().unwrap().seq;
        let reached = format!("seq={head}");
        for _ in 0..=head {
            let line = server.wait_for_log(
                "trace checkpoint written",
                std::time::Duration::from_secs(30),
            );
            if line.trim_end().ends_with(&reached) {
                break;
            }
        }
        let path = ws.path().join("trace-checkpoint.json");
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written["seq"].as_i64(), Some(head));
    }
    let verify = ws.command().args(["traces", "verify"]).output().unwrap();
    let out = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(verify.status.success(), "{out}");
    assert!(out.contains("reaches the checkpoint"), "{out}");

    let store = mlops_engine::store::SqlStore::open(&ws.db_url(), ws.chain_key())
        .await
        .unwrap();
    let head = ws.traces().await.last().unwrap().seq;
    sqlx::query("DELETE FROM trace_events WHERE seq > $1")
        .bind(head - 3)
        .execute(store.pool())
        .await
        .unwrap();
    let verify = ws.command().args(["traces", "verify"]).output().unwrap();
    let out = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert_eq!(verify.status.code(), Some(1), "{out}");
    assert!(out.contains(&format!("BROKEN at event {head}")), "{out}");
    assert!(out.contains("newest events were deleted"), "{out}");
}

#[test]
fn sigterm_and_sigint_shut_the_http_server_down_cleanly() {
    let ws = Workspace::demo();
    for signal in ["TERM", "INT"] {
        let mut server = HttpServer::start(&ws);
        let status = server.signal_and_wait(signal);
        assert!(status.success(), "{signal}: {status:?}");
    }
}

#[test]
fn drift_cli_on_the_demo_data() {
    let ws = Workspace::demo();
    let data = ws.path().join("data/fraud-detector");
    let (reference, current, holdout) = (
        data.join("reference.csv"),
        data.join("current.csv"),
        data.join("holdout.csv"),
    );
    let drift = |args: &[&std::path::Path], extra: &[&str]| {
        Command::new(BIN)
            .arg("drift")
            .args(args)
            .args(extra)
            .output()
            .unwrap()
    };
    let drifted = drift(&[&reference, &current], &["--format", "json"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", stderr(&drifted));
    let report: serde_json::Value = serde_json::from_slice(&drifted.stdout).unwrap();
    assert_eq!(report["dataset_drift"], true);
    assert_eq!(report["features"].as_array().map(Vec::len), Some(8));
    let category = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "merchant_category")
        .unwrap();
    assert_eq!(category["new_categories"], serde_json::json!(["crypto"]));
    assert_eq!(category["stattest"], "jensenshannon");

    let same = drift(&[&reference, &holdout], &[]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    assert!(String::from_utf8_lossy(&same.stdout).contains("no dataset drift"));

    let missing = drift(&[&reference, std::path::Path::new("/nonexistent.csv")], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("/nonexistent.csv"));

    // Text in a column the current data makes numeric: the error names file, column and row.
    let bad = ws.path().join("bad.csv");
    let mut text = std::fs::read_to_string(&reference).unwrap();
    text = text.replacen("\n", "\nabc,1,1,1,1,grocery,pos,0\n", 1);
    std::fs::write(&bad, text).unwrap();
    let out = drift(&[&bad, &current], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bad.csv") && err.contains("column `amount`") && err.contains("row 2"),
        "{err}"
    );

    let bad_arg = drift(&[&reference, &current], &["--stattest", "magic"]);
    assert_eq!(bad_arg.status.code(), Some(2));
    assert!(stderr(&bad_arg).contains("unknown test"));
}
