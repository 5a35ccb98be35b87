//! The application state shared by every transport: configuration, store, trace writer,
//! policy table, token verifier and rate limits.

use std::sync::Arc;
use std::time::Duration;

use mlops_auth::jwks::{HttpKeySource, JwksCache};
use mlops_auth::{
    AddressLimiter, Hs256Keys, PolicyTable, Principal, RateLimits, RateQuota, Verifier,
};
use mlops_engine::Store;
use mlops_engine::check_drift::DriftEnv;
use mlops_engine::drift::profile_cache::ProfileCache;
use mlops_engine::get_validation::ValidateCandidate;
use mlops_engine::jobs::runner::{Runner, RunnerSettings};
use mlops_engine::trace::NewTraceEvent;
use mlops_engine::trace_log::TraceLog;
use secrecy::ExposeSecret as _;

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
    verifier: Verifier,
    limits: RateLimits,
    addresses: AddressLimiter,
    address_refusals: crate::refusal_sampler::RefusalSampler,
    drift: DriftEnv,
    runner: Runner,
    registries: mlops_engine::registry::Registries,
    csrf_key: [u8; 32],
    metrics: crate::metrics::Metrics,
    /// Alert changes this process made, for its subscribed clients.
    alert_changes: tokio::sync::broadcast::Sender<mlops_engine::alerts::AlertChange>,
}

fn verifier(config: &Config) -> anyhow::Result<Verifier> {
    let auth = &config.auth;
    let mut verifier = Verifier::new(&auth.issuer, &auth.audience, auth.leeway_secs)
        .with_max_lifetime(auth.max_token_lifetime_secs)
        .with_claim_mapping(auth.claims.mapping());
    if let Some(secret) = auth.hs256_secret.clone() {
        verifier = verifier.with_hs256(Hs256Keys::new(
            secret,
            &auth.issuer,
            &auth.audience,
            auth.leeway_secs,
        ));
    }
    if let Some(url) = &auth.jwks_url {
        let source = HttpKeySource::new(url).map_err(|e| anyhow::anyhow!("auth.jwks_url: {e}"))?;
        verifier = verifier.with_jwks(JwksCache::new(
            Arc::new(source),
            Duration::from_secs(auth.jwks_min_refresh_secs),
            Duration::from_secs(auth.jwks_max_age_secs),
        ));
    }
    Ok(verifier)
}

impl App {
    /// Opens the store, syncs the configured models into it and starts the trace writer.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let key = config.trace.key()?;
        let store = mlops_engine::store::open(&config.store.url, key.clone()).await?;
        if let Some(seq) = mlops_engine::trace::seal_legacy_chain(store.as_ref(), &key).await? {
            tracing::info!(
                legacy_until = seq,
                "the trace chain is keyed from now on; its unkeyed events are sealed"
            );
        }
        for model in &config.models {
            store.sync_model(model).await?;
        }
        let l = &config.limits;
        let limits = RateLimits::new(
            RateQuota {
                per_minute: l.read_per_minute,
                burst: l.read_burst,
            },
            RateQuota {
                per_minute: l.high_privilege_per_minute,
                burst: l.high_privilege_burst,
            },
        );
        let addresses = AddressLimiter::new(RateQuota {
            per_minute: l.per_address_per_minute,
            burst: l.per_address_burst,
        });
        crate::authorization_server::check_issuer(&config.auth).await?;
        let verifier = verifier(&config)?;
        let secrets = crate::config::held(&config);
        let checkpoints = mlops_engine::trace_checkpoint::CheckpointWriter::spawn(
            config.trace.checkpoint_file.clone(),
            key,
        );
        let traces =
            TraceLog::spawn_checkpointed(store.clone(), secrets.clone(), Some(checkpoints));
        let drift = DriftEnv {
            profiles: Arc::new(ProfileCache::new(
                l.profile_cache_mib.saturating_mul(1 << 20),
            )),
            max_window_rows: l.max_window_rows,
            blocks: mlops_engine::blocks::Blocks::new(config.store.placement()),
        };
        let registries = mlops_engine::registry::Registries::new(&config.models);
        let runner = Runner::new(
            store.clone(),
            registries.clone(),
            traces.clone(),
            &config.models,
            RunnerSettings {
                jobs_dir: config.jobs.dir.clone(),
                max_concurrent: config.jobs.max_concurrent,
                poll_interval: Duration::from_secs(config.jobs.poll_interval_secs),
                heartbeat: Duration::from_secs(config.jobs.heartbeat_secs.max(1)),
                secrets,
                on_end: vec![Arc::new(ValidateCandidate {
                    store: store.clone(),
                    registries: registries.clone(),
                })],
            },
        )
        .map_err(|e| anyhow::anyhow!("retraining: {e}"))?;
        let csrf_key =
            derive_csrf_key(config.auth.hs256_secret.as_ref().map(|s| s.expose_secret()));
        let app = Self {
            inner: Arc::new(Inner {
                config,
                store,
                traces,
                policy: PolicyTable::standard(),
                verifier,
                limits,
                addresses,
                address_refusals: Default::default(),
                csrf_key,
                registries,
                drift,
                runner,
                metrics: crate::metrics::Metrics::new(
                    PolicyTable::standard().tools().map(str::to_owned).collect(),
                ),
                alert_changes: tokio::sync::broadcast::channel(256).0,
            }),
        };
        app.forget_idle_limits();
        Ok(app)
    }

    /// Periodically drops rate-limit state of idle keys, so memory stays bounded.
    fn forget_idle_limits(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                inner.limits.forget_idle();
                inner.addresses.forget_idle();
            }
        });
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// What drift checks need besides the store (the reference profile cache, limits).
    pub fn drift(&self) -> &DriftEnv {
        &self.inner.drift
    }

    /// Where ingested rows are kept.
    pub fn blocks(&self) -> &mlops_engine::blocks::Blocks {
        &self.inner.drift.blocks
    }

    /// Key of the approval page's CSRF tokens.
    pub fn csrf_key(&self) -> &[u8; 32] {
        &self.inner.csrf_key
    }

    /// The approval gate's settings.
    pub fn gate(&self) -> mlops_engine::promotion_gate::GateSettings {
        let c = self.config();
        mlops_engine::promotion_gate::GateSettings {
            expiry: chrono::Duration::seconds(
                i64::try_from(c.promotion.expiry_secs).unwrap_or(i64::MAX),
            ),
            page_url: c.approval_page(),
            registries: self.inner.registries.clone(),
        }
    }

    /// Where promotion events are announced.
    pub(crate) fn receivers(&self) -> crate::notify::Receivers<'_> {
        crate::notify::Receivers {
            webhooks: &self.inner.config.promotion.webhooks,
            approval_page: self.inner.config.approval_page(),
            traces: &self.inner.traces,
        }
    }

    /// Alert changes made by this process, as they happen.
    pub(crate) fn alert_changes(
        &self,
    ) -> &tokio::sync::broadcast::Sender<mlops_engine::alerts::AlertChange> {
        &self.inner.alert_changes
    }

    /// The decision trace.
    pub fn traces(&self) -> &TraceLog {
        &self.inner.traces
    }

    /// The store, shared (for tasks that outlive a call).
    pub(crate) fn shared_store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// Retraining jobs: triggers, state, cancellation.
    pub fn runner(&self) -> &Runner {
        &self.inner.runner
    }

    /// Picks up retraining jobs a previous process left active, then keeps doing so every
    /// heartbeat interval (another replica's, if it crashes). Call once when serving.
    pub async fn reconcile_jobs(&self) -> anyhow::Result<()> {
        let n = self.runner().reconcile().await?;
        if n > 0 {
            tracing::info!(jobs = n, "reconciling retraining jobs left active");
        }
        tokio::spawn(self.runner().clone().keep_reconciling());
        Ok(())
    }

    pub fn policy(&self) -> &PolicyTable {
        &self.inner.policy
    }

    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    pub fn limits(&self) -> &RateLimits {
        &self.inner.limits
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    pub fn addresses(&self) -> &AddressLimiter {
        &self.inner.addresses
    }

    /// Counts a refusal by the per-address quota; whether to trace it (the first of the
    /// address in each minute).
    pub fn address_refused(&self, address: std::net::IpAddr) -> bool {
        self.metrics().refused(crate::metrics::Refusal::Quota, None);
        let minute = chrono::Utc::now().timestamp().div_euclid(60);
        self.inner.address_refusals.should_trace(address, minute)
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
    pub async fn stdio_principal(&self, token: Option<&str>) -> anyhow::Result<Principal> {
        let mut principal = match token {
            Some(token) => {
                if !self.verifier().is_configured() {
                    anyhow::bail!(
                        "MLOPS_MCP_TOKEN is set but neither auth.hs256_secret nor auth.jwks_url is configured, so the token cannot be verified"
                    );
                }
                self.verifier()
                    .verify(token)
                    .await
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

/// The CSRF key of the approval page: derived from the HS256 secret when there is one (so
/// replicas agree), else random for this process.
fn derive_csrf_key(secret: Option<&str>) -> [u8; 32] {
    match secret {
        Some(s) => {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            h.update(b"mlops-mcp approval page csrf\0");
            h.update(s.as_bytes());
            h.finalize().into()
        }
        None => {
            use rand::Rng as _;
            rand::rng().random()
        }
    }
}
