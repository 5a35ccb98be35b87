//! The application state shared by every transport: configuration, store, trace writer,
//! policy table and token verifier.

use std::sync::Arc;

use mlops_auth::{Hs256Keys, PolicyTable, Principal, TokenVerifier};
use mlops_tools::Store;
use mlops_tools::trace::NewTraceEvent;
use mlops_tools::trace_log::TraceLog;

use crate::config::Config;

/// Cheap to clone; everything lives behind one `Arc`.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    traces: TraceLog,
    policy: PolicyTable,
    verifier: Option<Arc<dyn TokenVerifier>>,
}

impl App {
    /// Opens the store, syncs the configured models into it and starts the trace writer.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let store = mlops_tools::store::open(&config.store.url).await?;
        for model in &config.models {
            store.sync_model(model).await?;
        }
        let verifier = config.auth.hs256_secret.clone().map(|secret| {
            Arc::new(Hs256Keys::new(
                secret,
                &config.auth.issuer,
                &config.auth.audience,
                config.auth.leeway_secs,
            )) as Arc<dyn TokenVerifier>
        });
        let traces = TraceLog::spawn(store.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                traces,
                policy: PolicyTable::standard(),
                verifier,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn policy(&self) -> &PolicyTable {
        &self.inner.policy
    }

    /// The token verifier, if a secret is configured.
    pub fn verifier(&self) -> Option<&dyn TokenVerifier> {
        self.inner.verifier.as_deref()
    }

    /// Records a trace event; a failure is logged (the store is then unwell, and the caller's
    /// answer should not be lost because of it).
    pub async fn trace(&self, event: NewTraceEvent) -> Option<i64> {
        match self.inner.traces.record(event).await {
            Ok(stored) => Some(stored.seq),
            Err(error) => {
                tracing::error!(%error, "trace event not recorded");
                None
            }
        }
    }

    /// The principal of a stdio client: the token in `MLOPS_MCP_TOKEN` if set, else the
    /// configured local principal. `promotion:approve` is removed either way.
    pub fn stdio_principal(&self, token: Option<&str>) -> anyhow::Result<Principal> {
        let mut principal = match token {
            Some(token) => {
                let verifier = self.verifier().ok_or_else(|| {
                    anyhow::anyhow!(
                        "MLOPS_MCP_TOKEN is set but auth.hs256_secret is not configured, so the token cannot be verified"
                    )
                })?;
                verifier
                    .verify(token)
                    .map_err(|e| anyhow::anyhow!("MLOPS_MCP_TOKEN is not accepted: {e}"))?
            }
            None => {
                let c = &self.config().stdio;
                Principal::new(c.principal.clone(), c.scopes.iter().cloned(), "stdio")
            }
        };
        principal
            .scopes
            .remove(mlops_auth::scopes::PROMOTION_APPROVE);
        principal.via = "stdio".into();
        Ok(principal)
    }
}
