//! Helpers for end-to-end tests: a demo workspace in a temp dir, the real binary over stdio or
//! HTTP (on a free port, waited on by its readiness line), tokens, and the store.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use mlops_auth::{Claims, Hs256Keys};
use mlops_engine::Store;
use mlops_engine::trace::TraceEvent;
use secrecy::SecretString;
use serde_json::{Value, json};

pub mod tools;
pub use tools::wait_for_end;

pub const BIN: &str = env!("CARGO_BIN_EXE_mlops-mcp");

/// Fresh PostgreSQL databases for tests (shared with the storage suite's helpers).
#[path = "../../../tools/store/tests/common/mod.rs"]
pub mod databases;
pub mod datasets;

/// A demo workspace (`mlops-mcp demo --no-serve`) in a fresh temp dir.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The store, when it is not the demo's SQLite file.
    store_url: Option<String>,
}

impl Workspace {
    /// The demo without its production traffic (each test ingests the rows it needs).
    pub fn demo() -> Self {
        Self::demo_with(&["--no-traffic"])
    }

    /// The demo as a newcomer gets it: with the last hour of scored, partly labelled traffic.
    pub fn demo_with_traffic() -> Self {
        Self::demo_with(&[])
    }

    fn demo_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(BIN)
            .args(["demo", "--no-serve"])
            .args(extra)
            .arg("--dir")
            .arg(dir.path())
            .env_remove("MLOPS_MCP_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.path().join("mlops-mcp.toml");
        Self {
            dir,
            config,
            store_url: None,
        }
    }

    /// The demo on a fresh PostgreSQL database of the server `.ci/run` starts
    /// (`MLOPS_TEST_POSTGRES`); `None` outside CI when it is not set.
    pub async fn demo_on_test_postgres() -> Option<Self> {
        let admin = service_url(
            "MLOPS_TEST_POSTGRES",
            ".ci/run starts Debian's postgresql with tests/postgres/start.sh",
        )?;
        Some(Self::demo_on_postgres(&admin).await)
    }

    /// The demo on a fresh database of the PostgreSQL server at `admin` (its `postgres`
    /// database URL): the config's `store.url` names it, replicas beat every second, and the
    /// demo's `v1` champion is registered there.
    pub async fn demo_on_postgres(admin: &str) -> Self {
        let mut ws = Self::demo();
        let url = databases::fresh_database(admin).await;
        ws.edit_config(|t| {
            t["store"]["url"] = url.clone().into();
            t.entry("jobs")
                .or_insert_with(|| toml::Table::new().into())
                .as_table_mut()
                .unwrap()
                .insert("heartbeat_secs".into(), 1.into());
        });
        let out = Command::new(BIN)
            .args(["demo", "--no-serve", "--no-traffic", "--dir"])
            .arg(ws.path())
            .env_remove("MLOPS_MCP_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "demo on PostgreSQL failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ws.store_url = Some(url);
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command for the binary with this workspace's config.
    pub fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config")
            .arg(&self.config)
            .env_remove("MLOPS_MCP_TOKEN");
        c
    }

    /// A token from `mlops-mcp token issue`.
    pub fn token(&self, sub: &str, scopes: &str) -> String {
        let out = self
            .command()
            .args(["token", "issue", "--sub", sub, "--scopes", scopes])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn secret(&self) -> String {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        value["auth"]["hs256_secret"].as_str().unwrap().to_owned()
    }

    /// Keys with this workspace's secret, to sign unusual tokens.
    pub fn keys(&self) -> Hs256Keys {
        Hs256Keys::new(
            SecretString::from(self.secret()),
            "mlops-mcp",
            "mlops-mcp",
            0,
        )
    }

    pub fn claims(&self, sub: &str, scope: &str, exp_offset: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: sub.into(),
            iss: "mlops-mcp".into(),
            aud: "mlops-mcp".into(),
            exp: now + exp_offset,
            iat: now,
            nbf: None,
            scope: scope.into(),
            models: None,
        }
    }

    /// Rewrites the workspace's config file.
    pub fn edit_config(&self, edit: impl FnOnce(&mut toml::Table)) {
        let mut table: toml::Table =
            toml::from_str(&std::fs::read_to_string(&self.config).unwrap()).unwrap();
        edit(&mut table);
        std::fs::write(&self.config, toml::to_string(&table).unwrap()).unwrap();
    }

    /// Rewrites `[models.retrain]` of the demo model (its first model).
    pub fn edit_retrain(&self, edit: impl FnOnce(&mut toml::Table)) {
        self.edit_config(|t| {
            let model = t["models"].as_array_mut().unwrap()[0]
                .as_table_mut()
                .unwrap();
            edit(model["retrain"].as_table_mut().unwrap());
        });
    }

    pub fn db_url(&self) -> String {
        match &self.store_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.path().join("mlops-mcp.db").display()),
        }
    }

    pub async fn store(&self) -> Arc<dyn Store> {
        mlops_engine::store::open(&self.db_url(), self.chain_key())
            .await
            .unwrap()
    }

    /// Where the workspace's server keeps ingested rows (its default: beside a SQLite file, in
    /// the database for PostgreSQL).
    pub fn blocks(&self) -> Arc<mlops_engine::blocks::Blocks> {
        use mlops_engine::blocks::{BlockDir, Blocks, Placement};
        Blocks::new(match &self.store_url {
            Some(_) => Placement::Database,
            None => Placement::Dir(BlockDir::new(self.path().join("mlops-mcp.db.blocks"))),
        })
    }

    /// The ingested rows of `model` with `from <= timestamp < to` (labels joined).
    pub async fn ingested(
        &self,
        model: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Vec<mlops_engine::record::WindowRow> {
        let window = mlops_engine::records::Window { from, to };
        self.blocks()
            .rows(self.store().await.as_ref(), model, window)
            .await
            .unwrap()
    }

    /// Every ingested row of `model`.
    pub async fn all_ingested(&self, model: &str) -> Vec<mlops_engine::record::WindowRow> {
        self.ingested(
            model,
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
            chrono::DateTime::<chrono::Utc>::MAX_UTC,
        )
        .await
    }

    /// The trace chain key the workspace's server uses.
    pub fn chain_key(&self) -> mlops_engine::chain_key::ChainKey {
        mlops_engine::chain_key_file::load_or_create(&self.path().join("trace-chain.key")).unwrap()
    }

    /// A model as stored (it must exist).
    pub async fn model(&self, name: &str) -> mlops_engine::store::ModelRecord {
        self.store().await.get_model(name).await.unwrap().unwrap()
    }

    pub async fn traces(&self) -> Vec<TraceEvent> {
        self.store()
            .await
            .trace_events_after(0, 100_000)
            .await
            .unwrap()
    }
}

/// `mlops-mcp serve --http 127.0.0.1:0`, killed on drop.
pub struct HttpServer {
    child: Child,
    pub base: String,
    pub url: String,
    /// Every line the server writes to stderr after its readiness line.
    log: std::sync::Mutex<mpsc::Receiver<String>>,
}

impl HttpServer {
    pub fn start(ws: &Workspace) -> Self {
        Self::start_with(ws, &[])
    }

    pub fn start_with(ws: &Workspace, env: &[(&str, &str)]) -> Self {
        let mut cmd = ws.command();
        cmd.args(["serve", "--http", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let (log_tx, log_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let _ = tx.send(rest.to_owned());
                } else {
                    let _ = log_tx.send(line.clone());
                }
                eprintln!("[server] {line}");
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not become ready");
        let base = url.trim_end_matches("/mcp").to_owned();
        Self {
            child,
            base,
            url,
            log: std::sync::Mutex::new(log_rx),
        }
    }

    /// Blocks until the server logs a line containing `needle` (up to `within`); the line.
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> String {
        self.wait_for_line(&[needle], within)
    }

    /// Blocks until the server logs a line containing every one of `needles` (up to `within`);
    /// the line.
    pub fn wait_for_line(&self, needles: &[&str], within: Duration) -> String {
        let log = self.log.lock().unwrap();
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match log.recv_timeout(left) {
                Ok(line) if needles.iter().all(|n| line.contains(n)) => return line,
                Ok(_) => {}
                Err(e) => panic!("the server never logged {needles:?}: {e}"),
            }
        }
    }
}

/// Blocks until `servers` have logged, between them, `n` lines containing `needle` (up to
/// `within`), taking whichever logs first.
pub fn wait_for_lines(servers: &[&HttpServer], needle: &str, n: usize, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    let mut seen = 0;
    while seen < n {
        assert!(
            std::time::Instant::now() < deadline,
            "{seen} of {n} lines with {needle:?} within {within:?}"
        );
        for server in servers {
            let log = server.log.lock().unwrap();
            // A short blocking wait on each log in turn: a line is taken as soon as it comes.
            if let Ok(line) = log.recv_timeout(Duration::from_millis(20))
                && line.contains(needle)
            {
                seen += 1;
            }
        }
    }
}

impl HttpServer {
    /// The lines the server has logged and no wait read yet.
    pub fn log_so_far(&self) -> String {
        let log = self.log.lock().unwrap();
        std::iter::from_fn(|| log.try_recv().ok())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory (VmRSS) in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Sends `signal` (e.g. "TERM") and waits for the process to exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs a JSON-RPC body (with the headers a 2025-06-18 client sends) and returns status,
/// headers and the JSON message (unwrapped from SSE if needed).
pub async fn post(
    server: &HttpServer,
    auth: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    post_with(server, &headers, body.as_bytes().to_vec()).await
}

/// Like [`post`], with any extra headers (they override the defaults).
pub async fn post_with(
    server: &HttpServer,
    extra: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .body(body);
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json_text = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .find(|d| !d.trim().is_empty())
        .unwrap_or(&text)
        .to_owned();
    (
        status,
        headers,
        serde_json::from_str(&json_text).unwrap_or(Value::Null),
    )
}

/// Calls a tool over HTTP with a bearer token and returns the JSON-RPC `result`.
pub async fn tool(server: &HttpServer, token: &str, name: &str, args: Value) -> Value {
    let auth = format!("Bearer {token}");
    let (status, _, body) = post(server, Some(&auth), &call(name, args)).await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

pub fn call(tool: &str, args: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": args}}).to_string()
}

pub fn read(uri: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 8, "method": "resources/read", "params": {"uri": uri}})
        .to_string()
}

/// Drives the demo to a promotion request waiting for approval (retrain with the real trainer,
/// validate, request) as `token`'s principal; returns the request id.
pub async fn pending_promotion(server: &HttpServer, token: &str) -> String {
    pending_promotion_with(server, token, "passes every rule").await
}

/// [`pending_promotion`] with the given justification.
pub async fn pending_promotion_with(
    server: &HttpServer,
    token: &str,
    justification: &str,
) -> String {
    let ok = |v: Value| {
        assert_eq!(v["isError"], false, "{v}");
        v["structuredContent"].clone()
    };
    let drift = ok(tool(
        server,
        token,
        "check_drift",
        json!({"model": "fraud-detector"}),
    )
    .await);
    let job = ok(tool(
        server,
        token,
        "trigger_retrain",
        json!({"model": "fraud-detector", "reason": "drifted", "drift_report_id": drift["report_id"]}),
    )
    .await);
    let id = job["job"]["id"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        let view = ok(tool(
            server,
            token,
            "get_job",
            json!({"job_id": id, "wait_seconds": 60}),
        )
        .await);
        if view["state"] != "pending" && view["state"] != "running" {
            assert_eq!(view["state"], "succeeded", "{view}");
            break;
        }
    }
    let validation = ok(tool(server, token, "get_validation", json!({"job_id": id})).await);
    let request = ok(tool(
        server,
        token,
        "request_promotion",
        json!({
            "model": "fraud-detector",
            "candidate_version": validation["candidate_version"],
            "validation_id": validation["id"],
            "justification": justification,
        }),
    )
    .await);
    request["id"].as_str().unwrap().to_owned()
}

/// The URL of an external service a test needs, from `var`; `None` (the test skips) outside CI,
/// a failure under `CI=true`, where `.ci/run` must have started it (`started_by` says how).
pub fn service_url(var: &str, started_by: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but {var} is not set: .ci/run must start it ({started_by})")
        }
        _ => {
            eprintln!("skipped: {var} is not set (the service is started by {started_by})");
            None
        }
    }
}

/// A FIFO a trainer blocks on (`read _ < FIFO`) until the test opens it with [`open_gate`]:
/// the trainer waits for an event, not a file to appear.
pub fn gate(ws: &Workspace) -> PathBuf {
    let path = ws.path().join("gate");
    let made = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
    path
}

/// Releases a trainer blocked on [`gate`] (waits up to 60 s for it to be reading).
pub async fn open_gate(path: &Path) {
    let path = path.to_owned();
    let write = tokio::task::spawn_blocking(move || std::fs::write(path, "go\n"));
    tokio::time::timeout(Duration::from_secs(60), write)
        .await
        .expect("no trainer read the gate")
        .unwrap()
        .unwrap();
}

/// Waits (up to 60 s) until the server has recorded the backend's run of job `id` and returns
/// its id (a local trainer's process id). Follows the job's `subscriptions/listen` stream and
/// re-reads `mlops://jobs/{id}` on each update.
pub async fn run_id(server: &HttpServer, token: &str, id: &str) -> String {
    use rmcp::model::SubscriptionFilter;
    use rmcp::model::{ProtocolVersion, ReadResourceRequestParams, ResourceContents};
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.as_str()).auth_header(token),
    );
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = ().serve_with_lifecycle(transport, mode).await.unwrap();
    let uri = format!("mlops://jobs/{id}");
    let filter = SubscriptionFilter::builder()
        .resource_subscriptions(vec![uri.clone()])
        .build();
    let mut updates = client.peer().listen(filter).await.unwrap();
    let run = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let read = client
                .read_resource(ReadResourceRequestParams::new(uri.clone()))
                .await
                .unwrap();
            let job: Value = read
                .contents
                .iter()
                .find_map(|c| match c {
                    ResourceContents::TextResourceContents {
                        text, mime_type, ..
                    } if mime_type.as_deref() == Some("application/json") => {
                        serde_json::from_str(text).ok()
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no JSON in {read:?}"));
            if let Some(run) = job["external_id"].as_str() {
                return run.to_owned();
            }
            updates.next().await.unwrap().unwrap();
        }
    })
    .await
    .expect("the job's run was never recorded");
    drop(updates);
    client.cancel().await.unwrap();
    run
}

/// `sh -c script` as a TOML array (a trainer command).
pub fn sh(script: &str) -> toml::Value {
    toml::Value::Array(vec!["sh".into(), "-c".into(), script.into()])
}

/// Quotas high enough for a burst of high-privilege calls (rate limits are per process).
pub fn raise_quotas(ws: &Workspace) {
    ws.edit_config(|t| {
        let mut limits = toml::Table::new();
        limits.insert("high_privilege_per_minute".into(), 100_000.into());
        limits.insert("high_privilege_burst".into(), 1000.into());
        t.insert("limits".into(), limits.into());
    });
}

/// 100 concurrent `trigger_retrain` calls of the demo model, spread over `servers` and five
/// principals, a third with one idempotency key; the job ids they returned and how many said
/// they created their job.
pub async fn hundred_triggers(
    ws: &Workspace,
    servers: &[&HttpServer],
) -> (std::collections::HashSet<String>, usize, Vec<String>) {
    let tokens: Vec<String> = (0..5)
        .map(|i| ws.token(&format!("agent-{i}"), "agent"))
        .collect();
    let calls = (0..100).map(|i| {
        let token = tokens[i % tokens.len()].clone();
        let server = servers[i % servers.len()];
        async move {
            let mut args = json!({"model": "fraud-detector", "reason": format!("call {i}")});
            if i % 3 == 0 {
                args["idempotency_key"] = json!("nightly-2026-11-22");
            }
            tool(server, &token, "trigger_retrain", args).await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for r in &results {
        assert_eq!(r["isError"], false, "{r}");
        let out = &r["structuredContent"];
        ids.insert(out["job"]["id"].as_str().unwrap().to_owned());
        if out["created"] == true {
            created += 1;
        }
    }
    (ids, created, tokens)
}

/// A trainer script that follows the local backend's contract.
pub const WRITES_MODEL: &str = "echo '{\"roc_auc\": 0.91}' > \"$MLOPS_OUTPUT_DIR/metrics.json\"; \
                                echo weights > \"$MLOPS_OUTPUT_DIR/model.bin\"";

/// A trainer that records each start in `starts.txt`, prints `before`, blocks on a gate
/// ([`gate`]) and then prints `after` and writes a model. Returns (the starts file, the gate).
pub fn gated_trainer(ws: &Workspace) -> (PathBuf, PathBuf) {
    let starts = ws.path().join("starts.txt");
    let gate = gate(ws);
    ws.edit_retrain(|r| {
        r.insert(
            "command".into(),
            sh(&format!(
                "echo \"start $MLOPS_JOB_ID\" >> {starts}; echo before; \
                 read _ < {gate}; echo after; {WRITES_MODEL}",
                starts = starts.display(),
                gate = gate.display()
            )),
        );
    });
    (starts, gate)
}
