//! Notifications when a job changes: `subscriptions/listen` (protocol 2026-07-28, any
//! transport) and the legacy `resources/subscribe` (stdio sessions, which keep their channel).
//!
//! Changes this process makes arrive at once through the runner; changes made by another
//! process sharing the store (a CLI cancel, another replica) are seen by re-reading the
//! subscribed jobs every [`RECHECK`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mlops_auth::Principal;
use mlops_resources::ResourceUri;
use rmcp::model::SubscriptionFilter;
use rmcp::service::{Peer, SubscriptionContext};
use rmcp::{ErrorData, RoleServer};
use tokio::sync::broadcast::error::RecvError;

use crate::app::App;

/// How often subscribed jobs are re-read from the store.
const RECHECK: Duration = Duration::from_secs(2);

/// Most URIs one listen request or stdio session watches; the accepted filter says which.
pub const MAX_URIS: usize = 100;

/// The job id of a URI this server can notify about.
pub fn job_id(uri: &str) -> Option<String> {
    match ResourceUri::parse(uri) {
        Ok(ResourceUri::Job(id)) => Some(id),
        _ => None,
    }
}

/// The part of a requested filter this server serves: updates of `mlops://jobs/{id}`.
pub fn accepted(requested: &SubscriptionFilter) -> SubscriptionFilter {
    let uris: Vec<String> = requested
        .resource_subscriptions
        .iter()
        .flatten()
        .filter(|u| job_id(u).is_some())
        .take(MAX_URIS)
        .cloned()
        .collect();
    SubscriptionFilter::builder()
        .resource_subscriptions(uris)
        .build()
}

/// Watches a set of job URIs and calls `notify` with each URI whose job changed, until
/// `stop` resolves or `notify` fails.
async fn watch<N, F, S>(
    app: &App,
    principal: &Principal,
    uris: impl Fn() -> Vec<String>,
    mut notify: N,
    stop: S,
) where
    N: FnMut(String) -> F,
    F: std::future::Future<Output = bool>,
    S: std::future::Future<Output = ()>,
{
    let mut changes = app.runner().subscribe();
    let mut seen: HashMap<String, DateTime<Utc>> = HashMap::new();
    tokio::pin!(stop);
    loop {
        let mut changed: Vec<String> = Vec::new();
        tokio::select! {
            () = &mut stop => return,
            received = changes.recv() => match received {
                Ok(job) => {
                    let uri = format!("mlops://jobs/{}", job.id);
                    if uris().contains(&uri) && principal.may_access_model(&job.model)
                        && seen.insert(uri.clone(), job.updated_at) != Some(job.updated_at)
                    {
                        changed.push(uri);
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            () = tokio::time::sleep(RECHECK) => {
                for uri in uris() {
                    let Some(id) = job_id(&uri) else { continue };
                    let Ok(Some(job)) = app.store().get_job(&id).await else { continue };
                    if !principal.may_access_model(&job.model) {
                        continue;
                    }
                    let before = seen.insert(uri.clone(), job.updated_at);
                    if before.is_some_and(|t| t != job.updated_at) {
                        changed.push(uri);
                    }
                }
            }
        }
        for uri in changed {
            if !notify(uri).await {
                return;
            }
        }
    }
}

/// Runs one `subscriptions/listen` request until the client cancels it, its credential ends
/// (the token's `exp`), or `http.request_timeout_secs` pass; a client that still wants
/// notifications listens again, with a token that is still valid.
pub async fn listen(
    app: &App,
    principal: Principal,
    context: SubscriptionContext,
) -> Result<(), ErrorData> {
    let mut lasts = Duration::from_secs(app.config().http.request_timeout_secs);
    if let Some(exp) = principal.expires_at {
        let left = exp.saturating_sub(Utc::now().timestamp());
        lasts = lasts.min(Duration::from_secs(u64::try_from(left).unwrap_or(0)));
    }
    let uris: Vec<String> = context
        .accepted()
        .resource_subscriptions
        .clone()
        .unwrap_or_default();
    let sink = context.sink().clone();
    watch(
        app,
        &principal,
        || uris.clone(),
        |uri| {
            let sink = sink.clone();
            async move { sink.notify_resource_updated(uri).await.is_ok() }
        },
        async {
            tokio::select! {
                () = context.cancelled() => {}
                () = tokio::time::sleep(lasts) => {
                    tracing::debug!(who = %principal.subject, "listen stream ended: its token or time ran out");
                }
            }
        },
    )
    .await;
    Ok(())
}

/// Legacy `resources/subscribe` state of one stdio session.
#[derive(Default)]
pub struct Legacy {
    uris: Arc<Mutex<HashSet<String>>>,
    started: Mutex<bool>,
}

impl Legacy {
    /// Adds `uri`; the first subscription starts the session's watcher. Refused past
    /// [`MAX_URIS`] subscriptions.
    pub fn subscribe(
        &self,
        app: &App,
        principal: &Principal,
        peer: Peer<RoleServer>,
        uri: String,
    ) -> Result<(), ErrorData> {
        if let Ok(mut set) = self.uris.lock() {
            if set.len() >= MAX_URIS && !set.contains(&uri) {
                return Err(ErrorData::invalid_params(
                    format!(
                        "this session already watches {MAX_URIS} resources; unsubscribe from one first"
                    ),
                    None,
                ));
            }
            set.insert(uri);
        }
        let Ok(mut started) = self.started.lock() else {
            return Ok(());
        };
        if *started {
            return Ok(());
        }
        *started = true;
        let (app, principal, uris) = (app.clone(), principal.clone(), self.uris.clone());
        tokio::spawn(async move {
            watch(
                &app,
                &principal,
                || {
                    uris.lock()
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default()
                },
                |uri| {
                    let peer = peer.clone();
                    async move {
                        let param = rmcp::model::ResourceUpdatedNotificationParam::new(uri);
                        peer.notify_resource_updated(param).await.is_ok()
                    }
                },
                std::future::pending(),
            )
            .await;
        });
        Ok(())
    }

    pub fn unsubscribe(&self, uri: &str) {
        if let Ok(mut set) = self.uris.lock() {
            set.remove(uri);
        }
    }
}
