//! `mlops-mcp demo`: a ready workspace with the `fraud-detector` model, served over HTTP.
//!
//! Everything is created once and reused: the config (with its secret), the datasets, the `v1`
//! artifact and the database. Running it again changes nothing that exists.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mlops_engine::demo::{self, Era, LinearScorer};
use mlops_engine::model::{CHAMPION, NewVersion};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::cli::DemoArgs;
use crate::commands::{CommandError, new_secret, write_private};
use crate::config::Config;

const MODEL: &str = "fraud-detector";
const CONFIG_FILE: &str = "mlops-mcp.toml";
/// Seeds of the three datasets, so every demo workspace holds the same data.
const SEEDS: (u64, u64, u64) = (20_260_101, 20_260_102, 20_260_103);

fn config_text(secret: &str, bind: std::net::SocketAddr) -> String {
    format!(
        r#"# mlops-mcp demo workspace, written by `mlops-mcp demo`. Safe to edit.
[store]
url = "sqlite://mlops-mcp.db"

[http]
bind = "{bind}"

[auth]
# Signs the demo's tokens. Keep this file private.
hs256_secret = "{secret}"

[[models]]
name = "{MODEL}"
description = "Scores card transactions for fraud in real time"
owner = "payments-risk"
task = "binary_classification"
intended_use = "Flag card transactions for manual review. Not for automatic account closure."
limitations = [
  "Synthetic demo data: 7 features, about 5% fraud in the training period",
  "Not calibrated for merchant categories unseen in training (e.g. crypto)",
]
label = "is_fraud"
# v1's threshold; ingested rows carry its score in `prediction`.
decision_threshold = 0.2
reference_data = "data/{MODEL}/reference.csv"
current_data = "data/{MODEL}/current.csv"
# Holdout rows scored by v1: calibrates estimates of quality before labels arrive.
calibration_data = "data/{MODEL}/holdout.csv"
features = [
  {{ name = "amount", kind = "numeric" }},
  {{ name = "hour", kind = "numeric" }},
  {{ name = "distance_km", kind = "numeric" }},
  {{ name = "account_age_days", kind = "numeric" }},
  {{ name = "tx_count_24h", kind = "numeric" }},
  {{ name = "merchant_category", kind = "categorical" }},
  {{ name = "channel", kind = "categorical" }},
]

[models.retrain]
backend = "local"
# "{{mlops-mcp}}" stands for this server's own executable: the demo trainer needs nothing but Rust.
command = ["{{mlops-mcp}}", "train-demo"]
timeout_secs = 600
training_data = ["data/{MODEL}/reference.csv", "data/{MODEL}/current.csv"]
holdout_data = "data/{MODEL}/recent_holdout.csv"
cooldown_secs = 600
max_jobs_per_day = 5
breaker_after_failures = 3

[models.policy]
drift_share = 0.5
validation = [
  {{ metric = "roc_auc", min_absolute_change = 0.0 }},
  {{ metric = "f1", threshold = 0.25 }},
]
"#
    )
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))))
}

/// Writes a dataset unless it exists; `scorer` adds its `prediction` of every row.
fn write_dataset(
    path: &Path,
    era: Era,
    rows: usize,
    seed: u64,
    scorer: Option<&LinearScorer>,
) -> anyhow::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let file = std::fs::File::create(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    let rows = demo::generate(era, rows, seed);
    let scores: Option<Vec<f64>> = scorer.map(|s| rows.iter().map(|r| s.score(r)).collect());
    demo::write_csv(&rows, scores.as_deref(), std::io::BufWriter::new(file))?;
    Ok(true)
}

/// Creates whatever is missing in `dir` and returns the config file's path.
pub fn prepare(dir: &Path, bind: std::net::SocketAddr) -> anyhow::Result<PathBuf> {
    let data = dir.join("data").join(MODEL);
    let artifacts = dir.join("artifacts").join(MODEL);
    for d in [&data, &artifacts] {
        std::fs::create_dir_all(d)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", d.display()))?;
    }
    let config = dir.join(CONFIG_FILE);
    if !config.exists() {
        write_private(&config, &config_text(&new_secret(), bind))?;
        eprintln!("created {}", config.display());
    }
    let (s_ref, s_hold, s_cur) = SEEDS;
    let v1 = LinearScorer::demo_v1();
    write_dataset(
        &data.join("reference.csv"),
        Era::Reference,
        5000,
        s_ref,
        None,
    )?;
    // Scored by v1: what estimates of v1's quality before labels arrive are calibrated on.
    write_dataset(
        &data.join("holdout.csv"),
        Era::Reference,
        2000,
        s_hold,
        Some(&v1),
    )?;
    write_dataset(&data.join("current.csv"), Era::Drifted, 3000, s_cur, None)?;
    // Labelled rows of the drifted era kept apart from training: what a retrained version is
    // evaluated on (issue #4).
    write_dataset(
        &data.join("recent_holdout.csv"),
        Era::Drifted,
        2000,
        s_cur.wrapping_add(1),
        None,
    )?;
    let artifact = artifacts.join("v1.json");
    if !artifact.exists() {
        let json = serde_json::to_string_pretty(&v1)?;
        std::fs::write(&artifact, json)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", artifact.display()))?;
    }
    Ok(config)
}

/// Registers `v1` as champion unless the model already has versions. Its metrics come from
/// scoring the holdout file with the `v1` artifact.
async fn register_v1(app: &App, dir: &Path) -> anyhow::Result<()> {
    let record = app.store().get_model(MODEL).await?;
    if record.as_ref().is_some_and(|r| !r.versions.is_empty()) {
        return Ok(());
    }
    let artifact = dir.join("artifacts").join(MODEL).join("v1.json");
    let scorer: LinearScorer = serde_json::from_slice(&std::fs::read(&artifact)?)?;
    let holdout = dir.join("data").join(MODEL).join("holdout.csv");
    let rows = demo::read_csv(&holdout)?;
    let scored: Vec<(f64, bool)> = rows.iter().map(|r| (scorer.score(r), r.is_fraud)).collect();
    let metrics = demo::evaluate(&scored, scorer.threshold);
    let reference = dir.join("data").join(MODEL).join("reference.csv");
    app.store()
        .register_version(&NewVersion {
            model: MODEL.into(),
            version: "v1".into(),
            metrics: metrics.to_map(),
            artifact_uri: format!("file://{}", std::fs::canonicalize(&artifact)?.display()),
            artifact_digest: sha256_file(&artifact)?,
            training_job: None,
            data_snapshot: Some(format!(
                "data/{MODEL}/reference.csv ({})",
                sha256_file(&reference)?
            )),
            created_by: "demo".into(),
            baseline: None,
        })
        .await?;
    app.store()
        .set_alias(
            MODEL,
            CHAMPION,
            "v1",
            "demo",
            "initial champion registered by `mlops-mcp demo`",
        )
        .await?;
    eprintln!(
        "registered {MODEL} v1 as champion (holdout roc_auc {:.3}, {} rows)",
        metrics.roc_auc, metrics.rows
    );
    Ok(())
}

pub async fn run(args: DemoArgs) -> Result<ExitCode, CommandError> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let dir = std::fs::canonicalize(dir).map_err(anyhow::Error::from)?;
    let config_path = prepare(&dir, args.http)?;
    let config = Config::load(Some(&config_path))?;
    let keys = mlops_auth::Hs256Keys::new(
        config.require_secret()?.clone(),
        &config.auth.issuer,
        &config.auth.audience,
        0,
    );
    let app = App::start(config).await?;
    register_v1(&app, &dir).await?;
    if !args.no_traffic {
        let limit = app.config().limits.max_rows_per_model;
        let rows = crate::commands::demo_traffic::ingest(
            app.store(),
            app.blocks(),
            MODEL,
            limit,
            chrono::Utc::now(),
        )
        .await?;
        if rows > 0 {
            eprintln!(
                "ingested the last hour of {MODEL}'s traffic: {rows} rows scored by v1, labels for the oldest two thirds"
            );
        }
    }
    let scopes: Vec<String> = mlops_auth::scopes::AGENT_DEFAULT
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let token = keys
        .issue(
            "demo-agent",
            &scopes,
            8 * 3600,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| anyhow::anyhow!("cannot sign the demo token: {e}"))?;
    let exe =
        std::env::current_exe().map_or_else(|_| "mlops-mcp".into(), |p| p.display().to_string());
    let url = format!("http://{}/mcp", args.http);
    println!("mlops-mcp demo workspace: {}", dir.display());
    println!();
    println!(
        "Bearer token for the agent `demo-agent` (valid 8 h; scopes {}):",
        scopes.join(" ")
    );
    println!("{token}");
    println!();
    println!("MCP endpoint: {url}");
    println!();
    println!("Claude Desktop (stdio) — add to claude_desktop_config.json:");
    let snippet = serde_json::json!({
        "mcpServers": { "mlops": { "command": exe, "args": ["serve", "--config", config_path.display().to_string()] } }
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&snippet).map_err(anyhow::Error::from)?
    );
    println!();
    println!("Try it with the MCP Inspector (Node >= 22):");
    println!(
        "  npx @modelcontextprotocol/inspector --cli {url} --header \"Authorization: Bearer {token}\" --method tools/list"
    );
    println!();
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    app.reconcile_jobs().await?;
    let listener = crate::transport::http::bind(args.http).await?;
    crate::transport::http::serve(app, listener).await?;
    Ok(ExitCode::SUCCESS)
}
