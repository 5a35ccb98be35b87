//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// MCP server that lets AI agents operate production ML models safely.
#[derive(Debug, Parser)]
#[command(name = "mlops-mcp", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./mlops-mcp.toml if it exists, else built-in defaults.
    #[arg(long, global = true, env = "MLOPS_MCP_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// Print one model's effective settings (its own, `[model_defaults]` and templates applied)
    /// as TOML.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (default, what Claude Desktop spawns) or streamable HTTP (--http).
    Serve(ServeArgs),
    /// Write a commented starter configuration file.
    Init(InitArgs),
    /// Validate a configuration file and print what it sets up.
    CheckConfig(CheckConfigArgs),
    /// Print the JSON Schema of `mlops-mcp.toml`, for editors that validate TOML against one
    /// (e.g. Taplo / Even Better TOML: `#:schema ./mlops-mcp.schema.json` on the first line).
    ConfigSchema,
    /// Bearer tokens for the HTTP transport.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create (or reuse) a demo workspace with the `fraud-detector` model and serve it over HTTP.
    Demo(DemoArgs),
    /// Decision traces.
    #[command(subcommand)]
    Traces(TracesCommand),
    /// Retraining jobs: list, show, cancel, and reset a model's circuit breaker.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Promotion requests: list, show, approve, deny (needs a token with promotion:approve).
    Approvals(ApprovalsArgs),
    /// Compare two CSV files for data drift (Evidently's defaults); exit 0 no dataset drift,
    /// 1 drift, 2 error.
    Drift(DriftArgs),
    /// Measure a model's quality from a CSV of predictions and labels (scikit-learn's metric
    /// definitions, 95 % bootstrap intervals); prints JSON. Exit 0, or 2 on bad input.
    Quality(QualityArgs),
    /// The demo model's trainer, run by the local retraining backend (see README).
    #[command(hide = true)]
    TrainDemo,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Reference (training) data: .csv (header row), .parquet or .jsonl.
    pub reference: PathBuf,
    /// Current (production) data: .csv (header row), .parquet or .jsonl.
    pub current: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: DriftFormat,
    /// One test for every feature: ks, wasserstein, psi, kl_div, jensenshannon, hellinger,
    /// chisquare, z, chi2_contingency, l_infinity (default: Evidently's choice per feature).
    #[arg(long)]
    pub stattest: Option<String>,
    /// One threshold for every feature (default: each test's own).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Share of drifted features at or above which the dataset drifts.
    #[arg(long, default_value_t = 0.5)]
    pub drift_share: f64,
    /// Only these features (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct QualityArgs {
    /// A CSV file with a header row holding the prediction and label columns.
    pub file: PathBuf,
    /// `binary_classification` (the prediction is the positive class's score) or `regression`.
    #[arg(long, default_value = "binary_classification")]
    pub task: String,
    /// Decision threshold of a classifier: positive when the score is at least this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// The prediction column.
    #[arg(long, default_value = "prediction")]
    pub prediction: String,
    /// The label column. A row whose label cell is empty is scored but not measured.
    #[arg(long, default_value = "label")]
    pub label: String,
    /// Labelled, scored reference rows (same columns): adds `estimated`, the metrics of a binary
    /// classifier estimated from the scores of every row of FILE without their labels (CBPE).
    #[arg(long)]
    pub reference: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DriftFormat {
    Json,
    Table,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve streamable HTTP at ADDR (e.g. 127.0.0.1:8080) under /mcp instead of stdio.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub http: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the file.
    #[arg(default_value = "mlops-mcp.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a token signed with the configured HS256 secret.
    Issue {
        /// Subject (principal name).
        #[arg(long)]
        sub: String,
        /// Comma-separated scopes, e.g. models:read,drift:read (or `agent` for every scope but
        /// promotion:approve, `all` for every scope).
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30m, 8h, 7d.
        #[arg(long, default_value = "8h")]
        ttl: String,
        /// Limit the token to these model-name globs (comma-separated).
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// Check the hash chain of every stored trace event; exit 1 and name the first broken event.
    Verify,
    /// Stream stored trace events to stdout, oldest first, one JSON object per line (for a
    /// SIEM): every field, including the chain's `prev_hash` and `hash`.
    Export {
        /// Only events at or after this time (RFC 3339, e.g. 2026-11-22T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only events after this sequence number (resume where a previous export ended).
        #[arg(long, default_value_t = 0)]
        after_seq: i64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
    },
}

/// Formats of `traces export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines.
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first.
    List {
        /// Only this model's jobs.
        #[arg(long)]
        model: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One job with its log tail.
    Show {
        id: String,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Cancel an active job (a local trainer's whole process group is killed).
    Cancel { id: String },
    /// Close a model's circuit breaker after its jobs failed, so triggers are accepted again.
    ResetBreaker { model: String },
}

#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    /// Your token (with promotion:approve to decide); default: $MLOPS_MCP_TOKEN.
    #[arg(long, env = "MLOPS_MCP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Requests waiting for a decision (`--all`: every request).
    List {
        #[arg(long)]
        all: bool,
    },
    /// One request with its evidence: the validation report and the trace.
    Show { id: String },
    /// Approve: the evidence is checked again and the candidate becomes champion.
    Approve {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Deny, with the reason the requester will read.
    Deny {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Workspace directory (created if missing, reused if present).
    #[arg(long, default_value = "mlops-demo")]
    pub dir: PathBuf,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Prepare the workspace and print how to connect, but do not serve.
    #[arg(long)]
    pub no_serve: bool,
    /// Do not ingest the demo's last hour of scored production traffic (it is ingested when
    /// the model has no rows from the last 24 hours).
    #[arg(long)]
    pub no_traffic: bool,
}
