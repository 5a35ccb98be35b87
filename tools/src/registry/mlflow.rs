//! An MLflow model registry over its REST API (`/api/2.0/mlflow/...`, MLflow 3).
//!
//! A candidate is mirrored as: a run in the experiment `mlops-mcp/<model>` holding its metrics,
//! and a model version (source = the artifact URI, the run id, tags `mlops_version`,
//! `artifact_digest`, `training_job`). Validation reads the candidate's metrics back from that
//! run. Promotion moves the `champion` alias after checking it still points where it did when
//! the request was made (MLflow has no compare-and-set, so the check and the move are two
//! calls; the store's transaction around them is what serialises promotions here).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A registry call that failed, with MLflow's own error code and message where it gave one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MLflow {what}: {message}")]
pub struct MlflowError {
    pub what: String,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
}

enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

pub struct MlflowRegistry {
    base: String,
    /// The server's root URL (artifacts are uploaded under it).
    root: String,
    /// The registered model's name.
    pub name: String,
    client: reqwest::Client,
    auth: Auth,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl MlflowRegistry {
    /// A client for the tracking server at `url` and the registered model `name`, with
    /// credentials from MLflow's client variables.
    pub fn from_env(url: &str, name: &str) -> Self {
        let auth = match (
            env("MLFLOW_TRACKING_USERNAME"),
            env("MLFLOW_TRACKING_PASSWORD"),
            env("MLFLOW_TRACKING_TOKEN"),
        ) {
            (Some(u), Some(p), _) => Auth::Basic(u, p),
            (_, _, Some(t)) => Auth::Bearer(t),
            _ => Auth::None,
        };
        Self {
            base: format!("{}/api/2.0/mlflow", url.trim_end_matches('/')),
            root: url.trim_end_matches('/').to_owned(),
            name: name.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            auth,
        }
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => request,
            Auth::Basic(u, p) => request.basic_auth(u, Some(p)),
            Auth::Bearer(t) => request.bearer_auth(t),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Value,
        what: &str,
    ) -> Result<Value, MlflowError> {
        let fail = |status: Option<u16>, code: Option<String>, message: String| MlflowError {
            what: what.to_owned(),
            status,
            code,
            message,
        };
        let mut request = self
            .client
            .request(method.clone(), format!("{}/{path}", self.base));
        request = self.authed(request);
        // GET takes query parameters; everything else (DELETE included) a JSON body.
        request = if method == Method::GET {
            let pairs: Vec<(String, String)> = body
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let url = reqwest::Url::parse_with_params(&format!("{}/{path}", self.base), &pairs)
                .map_err(|e| fail(None, None, e.to_string()))?;
            self.authed(self.client.get(url))
        } else {
            request.json(&body)
        };
        let response = request
            .send()
            .await
            .map_err(|e| fail(None, None, format!("unreachable: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let code = value
            .get("error_code")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| text.chars().take(200).collect(), str::to_owned);
        let message = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => format!(
                "{} — check MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN: {message}",
                status.as_u16()
            ),
            _ => format!(
                "{} {}: {message}",
                status.as_u16(),
                code.as_deref().unwrap_or("")
            ),
        };
        Err(fail(Some(status.as_u16()), code, message))
    }

    /// Creates the registered model unless it exists.
    pub async fn ensure_model(&self) -> Result<(), MlflowError> {
        match self
            .call(
                Method::POST,
                "registered-models/create",
                json!({"name": self.name}),
                "create registered model",
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code.as_deref() == Some("RESOURCE_ALREADY_EXISTS") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn experiment(&self, name: &str) -> Result<String, MlflowError> {
        match self
            .call(
                Method::GET,
                "experiments/get-by-name",
                json!({"experiment_name": name}),
                "get experiment",
            )
            .await
        {
            Ok(v) => Ok(v
                .pointer("/experiment/experiment_id")
                .unwrap_or(&Value::Null)
                .as_str()
                .unwrap_or_default()
                .to_owned()),
            Err(e) if e.code.as_deref() == Some("RESOURCE_DOES_NOT_EXIST") => {
                let v = self
                    .call(
                        Method::POST,
                        "experiments/create",
                        json!({"name": name}),
                        "create experiment",
                    )
                    .await?;
                Ok(v.pointer("/experiment_id")
                    .unwrap_or(&Value::Null)
                    .as_str()
                    .unwrap_or_default()
                    .to_owned())
            }
            Err(e) => Err(e),
        }
    }

    /// A finished run holding `metrics` (and, for a local artifact, the file itself under
    /// `model/`), in the experiment `mlops-mcp/<registered model>`. Returns the run id and the
    /// version source to register: `runs:/<run>/model` for an uploaded file, else `artifact_uri`.
    pub async fn log_run(
        &self,
        run_name: &str,
        metrics: &BTreeMap<String, f64>,
        artifact_uri: &str,
    ) -> Result<(String, String), MlflowError> {
        let experiment = self.experiment(&format!("mlops-mcp/{}", self.name)).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let run = self
            .call(
                Method::POST,
                "runs/create",
                json!({"experiment_id": experiment, "run_name": run_name, "start_time": now}),
                "create run",
            )
            .await?;
        let run_id = run
            .pointer("/run/info/run_id")
            .unwrap_or(&Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let source = match artifact_uri.strip_prefix("file://") {
            Some(path) => {
                let store = run
                    .pointer("/run/info/artifact_uri")
                    .unwrap_or(&Value::Null)
                    .as_str()
                    .unwrap_or_default();
                self.upload(store, std::path::Path::new(path)).await?;
                format!("runs:/{run_id}/model")
            }
            None => artifact_uri.to_owned(),
        };
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v, "timestamp": now, "step": 0}))
            .collect();
        self.call(
            Method::POST,
            "runs/log-batch",
            json!({"run_id": run_id, "metrics": metrics}),
            "log metrics",
        )
        .await?;
        self.call(
            Method::POST,
            "runs/update",
            json!({"run_id": run_id, "status": "FINISHED", "end_time": now}),
            "finish run",
        )
        .await?;
        Ok((run_id, source))
    }

    /// Uploads a local file into a run's artifact store (`mlflow-artifacts:/…`, served by the
    /// tracking server) under `model/`.
    async fn upload(&self, run_artifacts: &str, path: &std::path::Path) -> Result<(), MlflowError> {
        let fail = |message: String| MlflowError {
            what: "upload artifact".into(),
            status: None,
            code: None,
            message,
        };
        let relative = run_artifacts.strip_prefix("mlflow-artifacts:/").ok_or_else(|| {
            fail(format!(
                "the run's artifact store is {run_artifacts}; this server uploads only to one served by MLflow (mlflow-artifacts:/)"
            ))
        })?;
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| fail(format!("{} has no file name", path.display())))?;
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}/model/{file}",
            self.root,
            relative.trim_matches('/')
        );
        let mut request = self.client.put(url).body(bytes);
        request = self.authed(request);
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("unreachable: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(fail(format!(
                "{} {}",
                response.status().as_u16(),
                response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect::<String>()
            )))
        }
    }

    /// Registers a version; returns MLflow's version number.
    pub async fn create_version(
        &self,
        source: &str,
        run_id: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, MlflowError> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let v = self
            .call(
                Method::POST,
                "model-versions/create",
                json!({"name": self.name, "source": source, "run_id": run_id, "tags": tags}),
                "create model version",
            )
            .await?;
        Ok(v.pointer("/model_version/version")
            .unwrap_or(&Value::Null)
            .as_str()
            .map_or_else(
                || {
                    v.pointer("/model_version/version")
                        .unwrap_or(&Value::Null)
                        .to_string()
                },
                str::to_owned,
            ))
    }

    /// The MLflow version tagged `mlops_version = version`, with its run id.
    pub async fn find_version(
        &self,
        version: &str,
    ) -> Result<Option<(String, Option<String>)>, MlflowError> {
        let filter = format!("name='{}' AND tags.mlops_version='{}'", self.name, version);
        let v = self
            .call(
                Method::GET,
                "model-versions/search",
                json!({"filter": filter}),
                "search model versions",
            )
            .await?;
        Ok(v.pointer("/model_versions")
            .unwrap_or(&Value::Null)
            .as_array()
            .and_then(|a| a.first())
            .map(|mv| {
                (
                    mv.pointer("/version")
                        .unwrap_or(&Value::Null)
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    mv.pointer("/run_id")
                        .unwrap_or(&Value::Null)
                        .as_str()
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned),
                )
            }))
    }

    /// The latest value of each metric of a run.
    pub async fn run_metrics(&self, run_id: &str) -> Result<BTreeMap<String, f64>, MlflowError> {
        let v = self
            .call(
                Method::GET,
                "runs/get",
                json!({"run_id": run_id}),
                "get run",
            )
            .await?;
        Ok(v.pointer("/run/data/metrics")
            .unwrap_or(&Value::Null)
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| {
                        Some((
                            m.pointer("/key")
                                .unwrap_or(&Value::Null)
                                .as_str()?
                                .to_owned(),
                            m.pointer("/value").unwrap_or(&Value::Null).as_f64()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The version an alias points at, or `None` if the alias is not set.
    pub async fn alias(&self, alias: &str) -> Result<Option<String>, MlflowError> {
        match self
            .call(
                Method::GET,
                "registered-models/alias",
                json!({"name": self.name, "alias": alias}),
                "get alias",
            )
            .await
        {
            Ok(v) => Ok(v
                .pointer("/model_version/version")
                .unwrap_or(&Value::Null)
                .as_str()
                .map(str::to_owned)),
            // MLflow answers an unknown alias with 400 INVALID_PARAMETER_VALUE (or 404).
            Err(e)
                if matches!(
                    e.code.as_deref(),
                    Some("INVALID_PARAMETER_VALUE" | "RESOURCE_DOES_NOT_EXIST")
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn set_alias(&self, alias: &str, version: &str) -> Result<(), MlflowError> {
        self.call(
            Method::POST,
            "registered-models/alias",
            json!({"name": self.name, "alias": alias, "version": version}),
            "set alias",
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_alias(&self, alias: &str) -> Result<(), MlflowError> {
        self.call(
            Method::DELETE,
            "registered-models/alias",
            json!({"name": self.name, "alias": alias}),
            "delete alias",
        )
        .await
        .map(|_| ())
    }

    pub async fn set_tag(&self, version: &str, key: &str, value: &str) -> Result<(), MlflowError> {
        self.call(
            Method::POST,
            "model-versions/set-tag",
            json!({"name": self.name, "version": version, "key": key, "value": value}),
            "set version tag",
        )
        .await
        .map(|_| ())
    }

    /// Every registered model on the server with its tags, following MLflow's pages (at most
    /// `limit` models).
    pub async fn registered_models(
        &self,
        limit: usize,
    ) -> Result<Vec<RegisteredModel>, MlflowError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = match &token {
                Some(t) => json!({"max_results": 100, "page_token": t}),
                None => json!({"max_results": 100}),
            };
            let page = self
                .call(
                    Method::GET,
                    "registered-models/search",
                    query,
                    "search registered models",
                )
                .await?;
            let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
            let listed = page.get("registered_models").and_then(Value::as_array);
            for m in listed.into_iter().flatten() {
                let Some(name) = text(m, "name") else {
                    continue;
                };
                let tags = m
                    .get("tags")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| Some((text(t, "key")?, text(t, "value")?)))
                    .collect();
                out.push(RegisteredModel { name, tags });
            }
            token = text(&page, "next_page_token").filter(|t| !t.is_empty());
            if token.is_none() || out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
        }
    }
}

/// A registered model as MLflow lists it: its name and tags (text from the registry, untrusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredModel {
    pub name: String,
    pub tags: BTreeMap<String, String>,
}
