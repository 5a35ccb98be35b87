//! Notifications when a job or an alert changes: `subscriptions/listen` (protocol 2026-07-28,
//! any transport) and the legacy `resources/subscribe` (stdio sessions, which keep their
//! channel). Watchable: `mlops://jobs/{id}`, `mlops://alerts` (any alert of a model the client
//! may see; the notification's `_meta` names the model and the alert) and `mlops://alerts/{id}`.
//!
//! Changes this process makes arrive at once (the runner, the alerting); changes made by
//! another process sharing the store (a CLI cancel, another replica's monitor) are seen by
//! re-reading the store every [`RECHECK`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mlops_auth::Principal;
use mlops_engine::alert::Alert;
use mlops_resources::ResourceUri;
use rmcp::model::{
    ResourceUpdatedNotification, ResourceUpdatedNotificationParam, ServerNotification,
    SubscriptionFilter,
};
use rmcp::service::{Peer, SubscriptionContext};
use rmcp::{ErrorData, RoleServer};
use tokio::sync::broadcast::error::RecvError;

use crate::app::App;

/// How often subscribed jobs are re-read from the store.
const RECHECK: Duration = Duration::from_secs(2);

/// Most URIs one listen request or stdio session watches; the accepted filter says which.
pub const MAX_URIS: usize = 100;

/// Alerts re-read from the store at each [`RECHECK`] (the most recently changed).
const RECHECKED_ALERTS: u32 = 100;

/// The job id of a URI this server can notify about.
pub fn job_id(uri: &str) -> Option<String> {
    match ResourceUri::parse(uri) {
        Ok(ResourceUri::Job(id)) => Some(id),
        _ => None,
    }
}

/// Whether this server can notify about `uri`.
pub fn watchable(uri: &str) -> bool {
    matches!(
        ResourceUri::parse(uri),
        Ok(ResourceUri::Job(_) | ResourceUri::Alerts | ResourceUri::Alert(_))
    )
}

/// The part of a requested filter this server serves: updates of `mlops://jobs/{id}`,
/// `mlops://alerts` and `mlops://alerts/{id}`.
pub fn accepted(requested: &SubscriptionFilter) -> SubscriptionFilter {
    let uris: Vec<String> = requested
        .resource_subscriptions
        .iter()
        .flatten()
        .filter(|u| watchable(u))
        .take(MAX_URIS)
        .cloned()
        .collect();
    SubscriptionFilter::builder()
        .resource_subscriptions(uris)
        .build()
}

/// A resource-updated notification for `uri`; for an alert, `_meta` names the model and the
/// alert.
fn updated(uri: String, alert: Option<&Alert>) -> ResourceUpdatedNotificationParam {
    let mut param = ResourceUpdatedNotificationParam::new(uri);
    if let Some(a) = alert {
        let mut meta = serde_json::Map::new();
        meta.insert("mlops/model".into(), a.model.clone().into());
        meta.insert(
            "mlops/alert".into(),
            format!("mlops://alerts/{}", a.id).into(),
        );
        meta.insert("mlops/state".into(), a.state.as_str().into());
        meta.insert("mlops/level".into(), a.level.as_str().into());
        param.meta = Some(meta.into());
    }
    param
}

/// The URIs among `watched` that a change of `a` updates.
fn alert_uris(watched: &[String], a: &Alert) -> Vec<String> {
    let own = format!("mlops://alerts/{}", a.id);
    watched
        .iter()
        .filter(|u| *u == "mlops://alerts" || **u == own)
        .cloned()
        .collect()
}

/// Watches a set of URIs and calls `notify` for each update, until `stop` resolves or
/// `notify` fails.
async fn watch<N, F, S>(
    app: &App,
    principal: &Principal,
    uris: impl Fn() -> Vec<String>,
    mut notify: N,
    stop: S,
) where
    N: FnMut(ResourceUpdatedNotificationParam) -> F,
    F: std::future::Future<Output = bool>,
    S: std::future::Future<Output = ()>,
{
    let mut changes = app.runner().subscribe();
    let mut alerts = app.alert_changes().subscribe();
    let mut seen: HashMap<String, DateTime<Utc>> = HashMap::new();
    // The newest alert change seen, so a re-read tells only what is new.
    let mut alerts_seen: Option<DateTime<Utc>> = None;
    tokio::pin!(stop);
    loop {
        let mut changed: Vec<ResourceUpdatedNotificationParam> = Vec::new();
        tokio::select! {
            () = &mut stop => return,
            received = changes.recv() => match received {
                Ok(job) => {
                    let uri = format!("mlops://jobs/{}", job.id);
                    if uris().contains(&uri) && principal.may_access_model(&job.model)
                        && seen.insert(uri.clone(), job.updated_at) != Some(job.updated_at)
                    {
                        changed.push(updated(uri, None));
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            received = alerts.recv() => match received {
                Ok(change) => {
                    let a = &change.alert;
                    if principal.may_access_model(&a.model) {
                        alerts_seen = alerts_seen.max(Some(a.updated_at));
                        for uri in alert_uris(&uris(), a) {
                            changed.push(updated(uri, Some(a)));
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            () = tokio::time::sleep(RECHECK) => {
                let watched = uris();
                for uri in &watched {
                    let Some(id) = job_id(uri) else { continue };
                    let Ok(Some(job)) = app.store().get_job(&id).await else { continue };
                    if !principal.may_access_model(&job.model) {
                        continue;
                    }
                    let before = seen.insert(uri.clone(), job.updated_at);
                    if before.is_some_and(|t| t != job.updated_at) {
                        changed.push(updated(uri.clone(), None));
                    }
                }
                if watched.iter().any(|u| u.starts_with("mlops://alerts")) {
                    let Ok(recent) = app.store().alerts(false, RECHECKED_ALERTS).await else {
                        continue;
                    };
                    let newest = recent.iter().map(|a| a.updated_at).max();
                    // The first read sets the mark: only later changes are news.
                    if let Some(mark) = alerts_seen {
                        for a in recent.iter().rev().filter(|a| a.updated_at > mark) {
                            if principal.may_access_model(&a.model) {
                                for uri in alert_uris(&watched, a) {
                                    changed.push(updated(uri, Some(a)));
                                }
                            }
                        }
                    }
                    alerts_seen = alerts_seen.max(newest).or(Some(Utc::now()));
                }
            }
        }
        for param in changed {
            if !notify(param).await {
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
        |param| {
            let sink = sink.clone();
            async move {
                let n = ServerNotification::ResourceUpdatedNotification(
                    ResourceUpdatedNotification::new(param),
                );
                sink.send(n).await.is_ok()
            }
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
                |param| {
                    let peer = peer.clone();
                    async move { peer.notify_resource_updated(param).await.is_ok() }
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
