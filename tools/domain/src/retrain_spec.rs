//! Retraining configuration of one model: which backend runs it, with what command or
//! endpoint, and the numbers its cost controls ([`crate::admission`]) apply.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which backend runs a model's retraining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    Local,
    Airflow,
    GithubActions,
    Webhook,
}

/// `models[].retrain` in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrainSpec {
    #[serde(default = "default_backend")]
    pub backend: BackendKind,
    /// `local`: the trainer's program and arguments.
    #[serde(default)]
    pub command: Vec<String>,
    /// Longest a job may run, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Longest one request to a remote backend may take, in seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Training files (default: the model's reference data and current data).
    #[serde(default)]
    pub training_data: Vec<PathBuf>,
    /// The file a new version is evaluated on.
    #[serde(default)]
    pub holdout_data: Option<PathBuf>,
    /// Backend parameters a caller may pass: a list of names (each a scalar), or a table
    /// declaring each one's `type` and optionally `min`, `max`, `values`, `max_length`.
    #[serde(default)]
    pub allowed_params: crate::params::AllowedParams,
    /// `local`: names of the server's environment variables the trainer also gets. It starts
    /// with a cleared environment: only `PATH`, `HOME`, `LANG` and the `MLOPS_*` contract
    /// variables, so no secret of the server reaches it unless named here.
    #[serde(default)]
    pub env: Vec<String>,
    /// Seconds after a job ends before the next may start.
    #[serde(default = "default_cooldown")]
    pub cooldown_secs: u64,
    /// Jobs that may start in any 24 hours.
    #[serde(default = "default_per_day")]
    pub max_jobs_per_day: u32,
    /// Consecutive failed jobs after which triggers are refused until a reset.
    #[serde(default = "default_breaker")]
    pub breaker_after_failures: u32,
    /// `airflow`: where the DAG is and how to sign in.
    #[serde(default)]
    pub airflow: Option<AirflowSpec>,
    /// `github_actions`: the workflow to dispatch.
    #[serde(default)]
    pub github_actions: Option<GithubActionsSpec>,
    /// `webhook`: where to POST, how to poll.
    #[serde(default)]
    pub webhook: Option<WebhookSpec>,
}

/// `models[].retrain.airflow`: an Airflow 3 deployment (REST API v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AirflowSpec {
    /// Base URL of the API server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    pub dag_id: String,
    /// Environment variables with a user name and password for `POST /auth/token`.
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// Or an environment variable with a ready bearer token (managed Airflow).
    #[serde(default)]
    pub token_env: Option<String>,
    /// The task whose XCom `return_value` holds the produced model
    /// (`{"metrics": {...}, "artifact_uri": "...", "artifact_digest": "sha256:..."}`).
    #[serde(default)]
    pub result_task: Option<String>,
}

/// `models[].retrain.github_actions`: a `workflow_dispatch` workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GithubActionsSpec {
    #[serde(default = "default_github_api")]
    pub api_url: String,
    /// `owner/name`.
    pub repository: String,
    /// Workflow file name (e.g. `retrain.yml`) or id.
    pub workflow: String,
    /// Branch or tag the workflow runs on.
    #[serde(default = "default_ref", rename = "ref")]
    pub git_ref: String,
    /// Environment variable holding the token (Actions: write).
    #[serde(default = "default_github_token_env")]
    pub token_env: String,
}

/// `models[].retrain.webhook`: any system that accepts a signed POST and answers a status URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Where the start request is POSTed.
    pub url: String,
    /// Where a job's status is read (GET); `{job_id}` and `{external_id}` (the `id` the start
    /// answer returned, else the job id) are replaced.
    pub status_url: String,
    /// Where a cancellation is POSTed (same placeholders); none: cancelling only ends the job here.
    #[serde(default)]
    pub cancel_url: Option<String>,
    /// Environment variable holding the signing secret (`whsec_<base64>` or any string).
    pub secret_env: String,
}

/// Whether an environment variable holds a setting of the server's own (`MLOPS_MCP_*`) or
/// MLflow's credentials, which no trainer gets.
pub fn mlops_secret_like(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("MLOPS_MCP_")
        || upper == "MLFLOW_TRACKING_PASSWORD"
        || upper == "MLFLOW_TRACKING_TOKEN"
}

fn default_github_api() -> String {
    "https://api.github.com".into()
}
fn default_ref() -> String {
    "main".into()
}
fn default_github_token_env() -> String {
    "GITHUB_TOKEN".into()
}

fn url_problem(at: &str, url: &str) -> Option<String> {
    (!(url.starts_with("https://") || url.starts_with("http://")))
        .then(|| format!("{at} = {url:?}: use an http:// or https:// URL"))
}

fn default_backend() -> BackendKind {
    BackendKind::Local
}
fn default_timeout() -> u64 {
    3600
}
fn default_request_timeout() -> u64 {
    30
}
fn default_cooldown() -> u64 {
    3600
}
fn default_per_day() -> u32 {
    3
}
fn default_breaker() -> u32 {
    3
}

impl RetrainSpec {
    /// Names of the environment variables that hold this backend's credentials.
    pub fn secret_env_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        if let Some(a) = &self.airflow {
            names.extend(
                [&a.username_env, &a.password_env, &a.token_env]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
        }
        if let Some(g) = &self.github_actions {
            names.push(&g.token_env);
        }
        if let Some(w) = &self.webhook {
            names.push(&w.secret_env);
        }
        names
    }

    /// Problems a user must fix, each naming the field under `at` (e.g. `models[0].retrain`).
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut out = self.allowed_params.problems(at);
        for name in &self.env {
            if mlops_secret_like(name) {
                out.push(format!(
                    "{at}.env: `{name}` looks like a secret of the server's; a trainer must not get the server's credentials (give it its own under another name)"
                ));
            }
        }
        if self.backend == BackendKind::Local && self.command.is_empty() {
            out.push(format!(
                "{at}.command: the local backend needs the trainer's program and arguments"
            ));
        }
        match self.backend {
            BackendKind::Local => {}
            BackendKind::Airflow => match &self.airflow {
                None => out.push(format!(
                    "{at}.airflow: the airflow backend needs url and dag_id ([models.retrain.airflow])"
                )),
                Some(a) => {
                    out.extend(url_problem(&format!("{at}.airflow.url"), &a.url));
                    let login = a.username_env.is_some() && a.password_env.is_some();
                    if !login && a.token_env.is_none() {
                        out.push(format!(
                            "{at}.airflow: set username_env and password_env (or token_env) to name the environment variables with the credentials"
                        ));
                    }
                }
            },
            BackendKind::GithubActions => match &self.github_actions {
                None => out.push(format!(
                    "{at}.github_actions: the github_actions backend needs repository and workflow ([models.retrain.github_actions])"
                )),
                Some(g) => {
                    out.extend(url_problem(&format!("{at}.github_actions.api_url"), &g.api_url));
                    if g.repository.split('/').filter(|p| !p.is_empty()).count() != 2 {
                        out.push(format!(
                            "{at}.github_actions.repository = {:?}: use owner/name",
                            g.repository
                        ));
                    }
                }
            },
            BackendKind::Webhook => match &self.webhook {
                None => out.push(format!(
                    "{at}.webhook: the webhook backend needs url, status_url and secret_env ([models.retrain.webhook])"
                )),
                Some(w) => {
                    out.extend(url_problem(&format!("{at}.webhook.url"), &w.url));
                    out.extend(url_problem(&format!("{at}.webhook.status_url"), &w.status_url));
                    if let Some(u) = &w.cancel_url {
                        out.extend(url_problem(&format!("{at}.webhook.cancel_url"), u));
                    }
                }
            },
        }
        if self.request_timeout_secs == 0 {
            out.push(format!("{at}.request_timeout_secs = 0: use at least 1"));
        }
        if self.timeout_secs == 0 {
            out.push(format!("{at}.timeout_secs = 0: use at least 1"));
        }
        if self.max_jobs_per_day == 0 {
            out.push(format!(
                "{at}.max_jobs_per_day = 0: use at least 1 (or remove `retrain` to disable retraining)"
            ));
        }
        if self.breaker_after_failures == 0 {
            out.push(format!("{at}.breaker_after_failures = 0: use at least 1"));
        }
        out
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RetrainSpec {
        toml::from_str("command = [\"train\"]\ncooldown_secs = 600\nmax_jobs_per_day = 2\nbreaker_after_failures = 2").unwrap()
    }

    #[test]
    fn configuration_problems_name_the_field() {
        let bad: RetrainSpec = toml::from_str("max_jobs_per_day = 0").unwrap();
        let problems = bad.problems("models[0].retrain");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("models[0].retrain.command"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("models[0].retrain.max_jobs_per_day"))
        );
        assert!(spec().problems("x").is_empty());
        assert!(toml::from_str::<RetrainSpec>("backend = \"jenkins\"").is_err());
    }
}
