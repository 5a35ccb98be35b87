//! Configuration: one TOML file, overridden by `MLOPS_MCP_*` environment variables
//! (`MLOPS_MCP_HTTP__BIND=127.0.0.1:9000` sets `http.bind`), then by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use mlops_auth::scopes;
use mlops_engine::ModelSpec;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// File read when `--config` is not given and it exists.
pub const DEFAULT_FILE: &str = "mlops-mcp.toml";

/// Environment variables with the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG", "TOKEN", "LOG"];

/// The whole configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where state lives.
    #[serde(default)]
    pub store: StoreConfig,
    /// The streamable HTTP transport.
    #[serde(default)]
    pub http: HttpConfig,
    /// Bearer-token verification.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Who a stdio client is.
    #[serde(default)]
    pub stdio: StdioConfig,
    /// Rate limits and result size.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Retraining jobs: where local jobs keep their files, how many run at once.
    #[serde(default)]
    pub jobs: JobsConfig,
    /// The human approval gate for promotions.
    #[serde(default)]
    pub promotion: PromotionConfig,
    /// The decision trace's chain key and checkpoints.
    #[serde(default)]
    pub trace: TraceConfig,
    /// The models this server operates.
    #[serde(default)]
    pub models: Vec<ModelSpec>,
    /// Directory relative paths are resolved against (the config file's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative to the config file; created on first run) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (the database must exist; replicas share
    /// it). Keep a password out of the file with `MLOPS_MCP_STORE__URL`.
    #[serde(default = "default_store_url")]
    pub url: String,
}

impl StoreConfig {
    /// The URL with any password replaced by `***`, for output and logs.
    pub fn display_url(&self) -> String {
        mlops_engine::store::redacted(&self.url)
    }
}

fn default_store_url() -> String {
    "sqlite://mlops-mcp.db".into()
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_store_url(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address `serve --http` binds when no address is given.
    #[serde(default = "default_bind")]
    pub bind: SocketAddr,
    /// Accepted `Host` header values (DNS-rebinding protection). Add your public host name
    /// when serving behind a proxy.
    #[serde(default = "default_hosts")]
    pub allowed_hosts: Vec<String>,
    /// Accepted `Origin` values (scheme://host[:port], `:*` for any port). A request with an
    /// Origin not listed gets 403; requests without Origin (non-browser clients) pass.
    #[serde(default = "default_origins")]
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Largest body of an ingest request (`POST /v1/models/{model}/records`), in bytes.
    #[serde(default = "default_ingest_body")]
    pub max_ingest_bytes: usize,
    /// Longest a request may take, in seconds.
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
    /// Longest a client may take to send the request headers, in seconds (slow-loris guard).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u64,
    /// Where to serve `/metrics` without a token (e.g. `127.0.0.1:9464`, reachable only from
    /// the scraper's network). Unset: `/metrics` is on the main listener and needs a bearer
    /// token with the scope `metrics:read`.
    #[serde(default)]
    pub metrics_bind: Option<SocketAddr>,
    /// A connection (HTTP/1.1 keep-alive or HTTP/2) that sends no request for this long is
    /// closed; requests in flight finish first. In seconds.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Most connections served at once; past it new ones wait in the listen queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_hosts() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
}
fn default_origins() -> Vec<String> {
    vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()]
}
fn default_body() -> usize {
    1024 * 1024
}
fn default_ingest_body() -> usize {
    32 * 1024 * 1024
}
fn default_timeout() -> u64 {
    120
}
fn default_header_timeout() -> u64 {
    10
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_max_connections() -> usize {
    1024
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            allowed_hosts: default_hosts(),
            allowed_origins: default_origins(),
            max_body_bytes: default_body(),
            max_ingest_bytes: default_ingest_body(),
            request_timeout_secs: default_timeout(),
            header_timeout_secs: default_header_timeout(),
            metrics_bind: None,
            idle_timeout_secs: default_idle_timeout(),
            max_connections: default_max_connections(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 secret (at least 32 bytes). Prefer the env var `MLOPS_MCP_AUTH__HS256_SECRET`.
    #[serde(default)]
    pub hs256_secret: Option<SecretString>,
    /// JWKS URL of an identity provider; enables RS256 and ES256 tokens signed by its keys.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Least time between two fetches of the JWKS (an unknown `kid` triggers one), in seconds.
    #[serde(default = "default_jwks_min_refresh")]
    pub jwks_min_refresh_secs: u64,
    /// How long fetched keys are used before they are fetched again, in seconds.
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age_secs: u64,
    /// This server's canonical resource URL (RFC 9728 `resource`), e.g.
    /// `https://mlops.example.com/mcp`. Default: `http://<http.bind>/mcp`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Authorization servers that issue tokens for this resource (RFC 9728 metadata).
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Expected `iss` claim.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// Expected `aud` claim.
    #[serde(default = "default_issuer")]
    pub audience: String,
    /// Clock skew tolerated for `exp`/`nbf`/`iat`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// Longest token lifetime (`exp - iat`) accepted, in seconds; longer tokens are refused, so a
    /// leaked token cannot serve for years. `token issue --ttl` is held to it too.
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime_secs: u64,
}

fn default_max_token_lifetime() -> u64 {
    mlops_auth::DEFAULT_MAX_LIFETIME_SECS
}

fn default_issuer() -> String {
    "mlops-mcp".into()
}
fn default_leeway() -> u64 {
    30
}
fn default_jwks_min_refresh() -> u64 {
    30
}
fn default_jwks_max_age() -> u64 {
    3600
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            jwks_url: None,
            jwks_min_refresh_secs: default_jwks_min_refresh(),
            jwks_max_age_secs: default_jwks_max_age(),
            resource: None,
            authorization_servers: Vec::new(),
            issuer: default_issuer(),
            audience: default_issuer(),
            leeway_secs: default_leeway(),
            max_token_lifetime_secs: default_max_token_lifetime(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdioConfig {
    /// Principal name of the user who spawned the stdio server.
    #[serde(default = "default_principal")]
    pub principal: String,
    /// Scopes of that principal. `promotion:approve` is never allowed over stdio.
    #[serde(default = "default_stdio_scopes")]
    pub scopes: Vec<String>,
}

fn default_principal() -> String {
    "local".into()
}
fn default_stdio_scopes() -> Vec<String> {
    scopes::AGENT_DEFAULT
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

impl Default for StdioConfig {
    fn default() -> Self {
        Self {
            principal: default_principal(),
            scopes: default_stdio_scopes(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Read-tool calls per minute per principal, sustained.
    #[serde(default = "default_read_rate")]
    pub read_per_minute: u32,
    /// Read-tool calls a principal may make in a burst.
    #[serde(default = "default_read_burst")]
    pub read_burst: u32,
    /// High-privilege tool calls (retrain, promotion requests) per minute per principal.
    #[serde(default = "default_high_rate")]
    pub high_privilege_per_minute: u32,
    /// High-privilege calls a principal may make in a burst.
    #[serde(default = "default_high_burst")]
    pub high_privilege_burst: u32,
    /// HTTP requests per minute per connection address, checked before the token.
    #[serde(default = "default_addr_rate")]
    pub per_address_per_minute: u32,
    /// HTTP requests a connection address may make in a burst.
    #[serde(default = "default_addr_burst")]
    pub per_address_burst: u32,
    /// Largest tool result or resource returned to the model, in bytes.
    #[serde(default = "default_max_result")]
    pub max_result_bytes: usize,
    /// Memory for cached reference profiles (sorted numeric columns, category counts), in MiB.
    #[serde(default = "default_profile_cache")]
    pub profile_cache_mib: usize,
    /// Most ingested rows one drift window may hold.
    #[serde(default = "default_window_rows")]
    pub max_window_rows: usize,
    /// Ingested rows may be at most this far in the future (clock skew), in seconds.
    #[serde(default = "default_ingest_future")]
    pub ingest_max_future_secs: u64,
    /// Ingested rows may be at most this old, in days.
    #[serde(default = "default_ingest_age")]
    pub ingest_max_age_days: u64,
    /// Columns of ingested rows that the model does not declare (features, label): `drop`
    /// (stored without them; the answer names them) or `refuse` (the request stores nothing).
    #[serde(default)]
    pub ingest_unknown_columns: mlops_engine::records::UnknownColumns,
    /// Most ingested rows kept for one model unless its `policy.max_ingested_rows` says
    /// otherwise; a request past it stores nothing.
    #[serde(default = "default_rows_per_model")]
    pub max_rows_per_model: u64,
}

fn default_ingest_future() -> u64 {
    300
}
fn default_ingest_age() -> u64 {
    400
}
fn default_rows_per_model() -> u64 {
    5_000_000
}

fn default_read_rate() -> u32 {
    600
}
fn default_read_burst() -> u32 {
    60
}
fn default_high_rate() -> u32 {
    10
}
fn default_high_burst() -> u32 {
    3
}
fn default_addr_rate() -> u32 {
    1200
}
fn default_addr_burst() -> u32 {
    200
}
fn default_max_result() -> usize {
    256 * 1024
}
fn default_profile_cache() -> usize {
    512
}
fn default_window_rows() -> usize {
    1_000_000
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            read_per_minute: default_read_rate(),
            read_burst: default_read_burst(),
            high_privilege_per_minute: default_high_rate(),
            high_privilege_burst: default_high_burst(),
            per_address_per_minute: default_addr_rate(),
            per_address_burst: default_addr_burst(),
            max_result_bytes: default_max_result(),
            profile_cache_mib: default_profile_cache(),
            max_window_rows: default_window_rows(),
            ingest_max_future_secs: default_ingest_future(),
            ingest_max_age_days: default_ingest_age(),
            ingest_unknown_columns: Default::default(),
            max_rows_per_model: default_rows_per_model(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// The key the trace chain's HMAC uses (64 hex characters; created, mode 0600, on first
    /// start). Keep it out of the database's reach and back it up: without it the chain cannot
    /// be verified. Replicas must share one key. Relative to the config file.
    #[serde(default = "default_trace_key_file")]
    pub key_file: PathBuf,
    /// Where the server writes a signed checkpoint of the chain's head after each commit;
    /// `traces verify` compares the chain with it to see a deleted tail. Relative to the config
    /// file.
    #[serde(default = "default_trace_checkpoint_file")]
    pub checkpoint_file: PathBuf,
}

fn default_trace_key_file() -> PathBuf {
    PathBuf::from("trace-chain.key")
}
fn default_trace_checkpoint_file() -> PathBuf {
    PathBuf::from("trace-checkpoint.json")
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            key_file: default_trace_key_file(),
            checkpoint_file: default_trace_checkpoint_file(),
        }
    }
}

impl TraceConfig {
    /// The chain key, created if there is none yet.
    pub fn key(
        &self,
    ) -> Result<mlops_engine::chain_key::ChainKey, mlops_engine::chain_key_file::ChainKeyError>
    {
        mlops_engine::chain_key_file::load_or_create(&self.key_file)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// Where local jobs keep their log and output, `<dir>/<job id>/` (relative to the config file).
    #[serde(default = "default_jobs_dir")]
    pub dir: PathBuf,
    /// Retraining jobs that may be active at once across all models.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    /// How often a remote backend (Airflow, GitHub Actions, webhook) is asked about a job.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
    /// How often a serving process records its heartbeat in the store and looks for jobs
    /// whose owner is gone: replicas sharing a PostgreSQL store take over a crashed replica's
    /// jobs after three silent intervals (at once when it ran on the same host).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: u64,
}

fn default_jobs_dir() -> PathBuf {
    PathBuf::from("jobs")
}
fn default_max_concurrent() -> u32 {
    2
}
fn default_poll_interval() -> u64 {
    10
}
fn default_heartbeat() -> u64 {
    5
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            dir: default_jobs_dir(),
            max_concurrent: default_max_concurrent(),
            poll_interval_secs: default_poll_interval(),
            heartbeat_secs: default_heartbeat(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionConfig {
    /// How long a promotion request waits for a human decision, in seconds.
    #[serde(default = "default_expiry")]
    pub expiry_secs: u64,
    /// The approval page's address as approvers reach it (default `http://<http.bind>/approvals`).
    #[serde(default)]
    pub page_url: Option<String>,
    /// Where to announce each new request and each decision.
    #[serde(default)]
    pub webhooks: Vec<WebhookTarget>,
    /// Environment variable with the secret that signs decision callbacks
    /// (`POST /approvals/callback`); unset: callbacks are refused.
    #[serde(default)]
    pub callback_secret_env: Option<String>,
    /// How long an approval page session lasts, in seconds (never past the token it began with).
    #[serde(default = "default_session_secs")]
    pub session_secs: u64,
}

fn default_session_secs() -> u64 {
    8 * 3600
}

/// One receiver of promotion announcements.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: String,
    /// `standard` (JSON signed with Standard Webhooks headers) or `slack` (a message with links).
    #[serde(default)]
    pub format: WebhookFormat,
    /// `standard`: environment variable holding the signing secret (`whsec_<base64>` or any string).
    #[serde(default)]
    pub secret_env: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Standard,
    Slack,
}

fn default_expiry() -> u64 {
    24 * 3600
}

impl Default for PromotionConfig {
    fn default() -> Self {
        Self {
            expiry_secs: default_expiry(),
            page_url: None,
            webhooks: Vec::new(),
            callback_secret_env: None,
            session_secs: default_session_secs(),
        }
    }
}

impl Config {
    /// The approval page's address.
    pub fn approval_page(&self) -> String {
        self.promotion
            .page_url
            .clone()
            .unwrap_or_else(|| format!("http://{}/approvals", self.http.bind))
    }

    /// Whether approvers reach this server over https (the page or resource URL says so).
    pub fn served_over_https(&self) -> bool {
        self.approval_page().starts_with("https://") || self.resource().starts_with("https://")
    }
}

/// In `models[].retrain.command`, stands for this server's own executable (the demo trainer is
/// `["{mlops-mcp}", "train-demo"]`).
pub const SELF_EXE: &str = "{mlops-mcp}";

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Load { path: String, message: String },
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl Config {
    /// Loads `path` (or the default file, or built-in defaults), applies the environment, resolves
    /// relative paths and validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(ConfigError::Load {
                        path: p.display().to_string(),
                        message: "file not found (create one with `mlops-mcp init`)".into(),
                    });
                }
                Some(p.to_path_buf())
            }
            None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        let mut figment = Figment::new();
        if let Some(f) = &file {
            figment = figment.merge(Toml::file_exact(f));
        }
        // Configuration keys all live in a section, so their variables contain `__`; other
        // MLOPS_MCP_* variables are not configuration (and a likely typo is pointed out).
        for (name, _) in std::env::vars() {
            if let Some(key) = name.strip_prefix("MLOPS_MCP_")
                && !key.contains("__")
                && !NOT_KEYS.contains(&key)
            {
                eprintln!(
                    "warning: ignoring environment variable {name}: configuration variables look like \
                     MLOPS_MCP_<SECTION>__<KEY>, e.g. MLOPS_MCP_HTTP__BIND"
                );
            }
        }
        figment = figment.merge(
            Env::prefixed("MLOPS_MCP_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let shown = file
            .as_ref()
            .map_or("configuration".to_owned(), |f| f.display().to_string());
        let mut config: Config = figment.extract().map_err(|e| ConfigError::Load {
            path: shown,
            message: e.to_string(),
        })?;
        let base = file
            .as_ref()
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        config.base_dir = base;
        config.resolve_paths();
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn resolve_paths(&mut self) {
        let base = self.base_dir.clone();
        if let Some(path) = self.store.url.strip_prefix("sqlite://")
            && !path.starts_with(':')
            && Path::new(path).is_relative()
        {
            self.store.url = format!("sqlite://{}", base.join(path).display());
        }
        if self.jobs.dir.is_relative() {
            self.jobs.dir = base.join(&self.jobs.dir);
        }
        for p in [&mut self.trace.key_file, &mut self.trace.checkpoint_file] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let exe = std::env::current_exe().ok();
        for m in &mut self.models {
            let mut paths: Vec<&mut PathBuf> = [&mut m.reference_data, &mut m.current_data]
                .into_iter()
                .flatten()
                .collect();
            if let Some(r) = m.retrain.as_mut() {
                paths.extend(r.training_data.iter_mut());
                paths.extend(r.holdout_data.iter_mut());
                if let (Some(first), Some(exe)) = (r.command.first_mut(), &exe)
                    && first == SELF_EXE
                {
                    *first = exe.display().to_string();
                }
            }
            for p in paths {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
    }

    /// Every problem, each naming the field and what to do.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = mlops_engine::store::Dialect::of(&self.store.url) {
            out.push(format!("store.url: {e}"));
        }
        if self.http.max_connections == 0 || self.http.idle_timeout_secs == 0 {
            out.push("http.max_connections and http.idle_timeout_secs must be at least 1".into());
        }
        if self.http.allowed_hosts.is_empty() {
            out.push("http.allowed_hosts is empty: list the host names clients use, e.g. [\"localhost\", \"127.0.0.1\"]".into());
        }
        for (i, o) in self.http.allowed_origins.iter().enumerate() {
            if o != "null" && !(o.starts_with("http://") || o.starts_with("https://")) {
                out.push(format!(
                    "http.allowed_origins[{i}] = {o:?}: an origin needs a scheme, e.g. \"https://app.example.com\""
                ));
            }
        }
        if self.http.max_body_bytes < 1024 {
            out.push(format!(
                "http.max_body_bytes = {}: use at least 1024",
                self.http.max_body_bytes
            ));
        }
        if self.http.request_timeout_secs == 0 {
            out.push("http.request_timeout_secs = 0: use a positive number of seconds".into());
        }
        if let Some(secret) = &self.auth.hs256_secret
            && secret.expose_secret().len() < mlops_auth::MIN_SECRET_BYTES
        {
            out.push(format!(
                "auth.hs256_secret is {} bytes: use at least {} random bytes (e.g. `openssl rand -hex 32`)",
                secret.expose_secret().len(),
                mlops_auth::MIN_SECRET_BYTES
            ));
        }
        if let Some(url) = &self.auth.jwks_url
            && !(url.starts_with("https://")
                || url.starts_with("http://127.")
                || url.starts_with("http://localhost"))
        {
            out.push(format!(
                "auth.jwks_url = {url:?}: use https:// (plain http only on loopback)"
            ));
        }
        for (name, value) in [
            ("limits.read_per_minute", self.limits.read_per_minute),
            ("limits.read_burst", self.limits.read_burst),
            (
                "limits.high_privilege_per_minute",
                self.limits.high_privilege_per_minute,
            ),
            (
                "limits.high_privilege_burst",
                self.limits.high_privilege_burst,
            ),
            (
                "limits.per_address_per_minute",
                self.limits.per_address_per_minute,
            ),
            ("limits.per_address_burst", self.limits.per_address_burst),
        ] {
            if value == 0 {
                out.push(format!("{name} = 0: use a positive number"));
            }
        }
        if self.limits.max_result_bytes < 1024 {
            out.push(format!(
                "limits.max_result_bytes = {}: use at least 1024",
                self.limits.max_result_bytes
            ));
        }
        if self.http.header_timeout_secs == 0 {
            out.push("http.header_timeout_secs = 0: use a positive number of seconds".into());
        }
        for (i, w) in self.promotion.webhooks.iter().enumerate() {
            if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
                out.push(format!(
                    "promotion.webhooks[{i}].url = {:?}: use an http:// or https:// URL",
                    w.url
                ));
            }
            if w.format == WebhookFormat::Standard && w.secret_env.is_none() {
                out.push(format!(
                    "promotion.webhooks[{i}].secret_env: a standard webhook is signed; name the environment variable with its secret"
                ));
            }
        }
        if self.promotion.expiry_secs == 0 {
            out.push("promotion.expiry_secs = 0: use a positive number of seconds".into());
        }
        if self.jobs.max_concurrent == 0 {
            out.push("jobs.max_concurrent = 0: use at least 1".into());
        }
        if self.jobs.poll_interval_secs == 0 {
            out.push("jobs.poll_interval_secs = 0: use a positive number of seconds".into());
        }
        if self.stdio.principal.trim().is_empty() {
            out.push("stdio.principal is empty: name the local user, e.g. \"local\"".into());
        }
        for (i, s) in self.stdio.scopes.iter().enumerate() {
            if s == scopes::PROMOTION_APPROVE {
                out.push(format!(
                    "stdio.scopes[{i}] = \"promotion:approve\": approval is never granted over stdio; remove it"
                ));
            } else if !scopes::ALL.contains(&s.as_str()) {
                out.push(format!(
                    "stdio.scopes[{i}] = {s:?}: unknown scope; known: {}",
                    scopes::ALL.join(", ")
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, m) in self.models.iter().enumerate() {
            out.extend(m.problems(i));
            if !names.insert(m.name.as_str()) {
                out.push(format!("models[{i}].name = {:?}: declared twice", m.name));
            }
        }
        out.extend(crate::held_secrets::env_problems(self));
        out
    }

    /// The canonical resource URL of this server.
    pub fn resource(&self) -> String {
        self.auth
            .resource
            .clone()
            .unwrap_or_else(|| format!("http://{}/mcp", self.http.bind))
    }

    /// HTTP needs some key material to verify tokens.
    pub fn require_token_keys(&self) -> Result<(), ConfigError> {
        if self.auth.hs256_secret.is_some() || self.auth.jwks_url.is_some() {
            return Ok(());
        }
        Err(ConfigError::Invalid(vec![
            "auth.hs256_secret and auth.jwks_url are both unset: HTTP needs one to verify bearer \
             tokens; set a secret (at least 32 random bytes, e.g. in MLOPS_MCP_AUTH__HS256_SECRET) \
             or the JWKS URL of your identity provider"
                .into(),
        ]))
    }

    /// The HS256 secret, or an error saying how to set one.
    pub fn require_secret(&self) -> Result<&SecretString, ConfigError> {
        self.auth.hs256_secret.as_ref().ok_or_else(|| {
            ConfigError::Invalid(vec![
                "auth.hs256_secret is not set: HTTP needs it to verify bearer tokens; set it in the \
                 file or in MLOPS_MCP_AUTH__HS256_SECRET (at least 32 random bytes)"
                    .into(),
            ])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::StoreConfig;

    #[test]
    fn a_store_password_is_never_displayed() {
        let shown = |url: &str| StoreConfig { url: url.into() }.display_url();
        assert_eq!(
            shown("postgres://mlops:s3cret@db:5432/mlops"),
            "postgres://mlops:***@db:5432/mlops"
        );
        assert_eq!(
            shown("postgres://mlops@db/mlops"),
            "postgres://mlops@db/mlops"
        );
        assert_eq!(shown("sqlite:///var/lib/m.db"), "sqlite:///var/lib/m.db");
    }
}
