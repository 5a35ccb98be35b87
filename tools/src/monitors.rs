//! The monitors the server runs: every tick, each model whose slot is due is claimed in the
//! store (so one replica runs it) and checked. A run that fails is recorded with why and never
//! stops the others. At most `max_concurrent` checks run at once; a slot is claimed only when
//! its check can start, so a replica that dies mid-queue leaves no claimed-but-unrun slots.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mlops_auth::Principal;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::alerts::{self, OnAlert};
use crate::check_drift::{self, CheckDriftInput, DriftEnv};
use crate::check_performance::{self, CheckPerformanceInput};
use crate::model::ModelSpec;
use crate::monitor::{self, Check, MonitorSpec, RunOutcome, Schedule};
use crate::store::Store;
use crate::trace::{NewTraceEvent, Outcome};
use crate::trace_log::TraceLog;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    /// How often due slots are looked for.
    pub tick: Duration,
    /// Most checks running at once in this process.
    pub max_concurrent: usize,
}

struct Watched {
    name: String,
    spec: MonitorSpec,
    schedule: Schedule,
}

/// The scheduler of one process.
pub struct Monitors {
    store: Arc<dyn Store>,
    drift: DriftEnv,
    traces: TraceLog,
    on_alert: OnAlert,
    replica: String,
    settings: MonitorSettings,
    watched: Vec<Watched>,
}

impl Monitors {
    /// The monitors of `models` that are enabled; an invalid schedule was refused by the
    /// configuration check before this.
    pub fn new(
        store: Arc<dyn Store>,
        drift: DriftEnv,
        traces: TraceLog,
        models: &[ModelSpec],
        settings: MonitorSettings,
        on_alert: OnAlert,
    ) -> Self {
        let watched = models
            .iter()
            .filter_map(|m| {
                let spec = m.monitor.clone().filter(|s| s.enabled)?;
                let schedule = spec.schedule(&m.name).ok()?;
                Some(Watched {
                    name: m.name.clone(),
                    spec,
                    schedule,
                })
            })
            .collect();
        Self {
            store,
            drift,
            traces,
            on_alert,
            replica: crate::jobs::this_replica().id,
            settings,
            watched,
        }
    }

    /// How many models have a monitor.
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Runs the scheduler until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        let this = Arc::new(self);
        tokio::spawn(async move {
            if this.watched.is_empty() {
                return;
            }
            tracing::info!(models = this.watched.len(), "monitors started");
            let permits = Arc::new(Semaphore::new(this.settings.max_concurrent.max(1)));
            // The slot each model was last tried for, and when to look again.
            let mut tried: HashMap<usize, DateTime<Utc>> = HashMap::new();
            let mut next: Vec<DateTime<Utc>> = vec![DateTime::<Utc>::MIN_UTC; this.watched.len()];
            let mut tick = tokio::time::interval(this.settings.tick);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = Utc::now();
                for (i, w) in this.watched.iter().enumerate() {
                    if next.get(i).is_some_and(|t| *t > now) {
                        continue;
                    }
                    let Some(slot) = w.schedule.due_slot(&w.name, now) else {
                        continue;
                    };
                    if let Some(n) = next.get_mut(i) {
                        *n = w
                            .schedule
                            .next_due(&w.name, slot)
                            .unwrap_or(now + chrono::TimeDelta::hours(1));
                    }
                    if tried.insert(i, slot) == Some(slot) {
                        continue;
                    }
                    let (this, permits) = (this.clone(), permits.clone());
                    tokio::spawn(async move {
                        let Ok(_permit) = permits.acquire_owned().await else {
                            return;
                        };
                        if let Some(w) = this.watched.get(i) {
                            this.run_slot(w, slot).await;
                        }
                    });
                }
            }
        })
    }

    /// Claims `slot` of `w` and, if this process got it, runs the check and records how it
    /// ended.
    async fn run_slot(&self, w: &Watched, slot: DateTime<Utc>) {
        match self
            .store
            .claim_monitor_slot(&w.name, slot, &self.replica)
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, model = %w.name, "monitor slot not claimed");
                return;
            }
        }
        let trace_id = uuid::Uuid::new_v4().to_string();
        let mut outcome = RunOutcome::Ok;
        let mut report_id = None;
        let mut details = Vec::new();
        for check in &w.spec.run {
            let (ok, id, detail) = match check {
                Check::Drift => self.drift(w, slot, &trace_id).await,
                Check::Quality => self.quality(w, slot, &trace_id).await,
            };
            if !ok {
                outcome = RunOutcome::Failed;
            }
            report_id = report_id.or(id);
            details.push(detail);
        }
        let detail = details.join("; ");
        if let Err(error) = self
            .store
            .finish_monitor_run(&w.name, slot, outcome, report_id.as_deref(), &detail)
            .await
        {
            tracing::warn!(%error, model = %w.name, "monitor run not recorded");
        }
        tracing::info!(model = %w.name, ?outcome, "monitor run finished");
    }

    /// Records the trace event of one check the monitor ran.
    async fn trace(
        &self,
        trace_id: &str,
        action: &str,
        args: &serde_json::Value,
        ok: bool,
        detail: &str,
        micros: i64,
    ) {
        let event = NewTraceEvent::new(
            trace_id,
            monitor::PRINCIPAL,
            action,
            args,
            if ok { Outcome::Ok } else { Outcome::Error },
            detail,
            micros,
        );
        if let Err(error) = self.traces.record(event).await {
            tracing::error!(%error, "trace event not recorded");
        }
    }

    /// Hands an alert change to whoever announces it.
    fn announce(
        &self,
        change: Result<Option<alerts::AlertChange>, crate::store::StoreError>,
        model: &str,
    ) {
        match change {
            Ok(Some(change)) => (self.on_alert)(change),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, %model, "alert not updated"),
        }
    }

    /// `check_drift` over the monitor's window, with its alert: whether it ran, the report and
    /// the verdict (or why it failed) in words.
    async fn drift(
        &self,
        w: &Watched,
        slot: DateTime<Utc>,
        trace_id: &str,
    ) -> (bool, Option<String>, String) {
        let started = std::time::Instant::now();
        let principal = Principal::new(monitor::PRINCIPAL, ["drift:read"], "monitor");
        let input = CheckDriftInput {
            model: w.name.clone(),
            last: w.spec.last.clone(),
            ..CheckDriftInput::default()
        };
        let args = json!({"model": w.name, "last": w.spec.last, "slot": slot.to_rfc3339()});
        let result =
            check_drift::check_drift(self.store.as_ref(), &self.drift, &principal, &input).await;
        let micros = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        match result {
            Ok(out) => {
                let detail = out.reasons.first().cloned().unwrap_or_default();
                self.trace(trace_id, "check_drift", &args, true, &detail, micros)
                    .await;
                let change = alerts::on_drift(
                    self.store.as_ref(),
                    &self.traces,
                    trace_id,
                    monitor::PRINCIPAL,
                    &out,
                )
                .await;
                self.announce(change, &w.name);
                (true, Some(out.report_id), detail)
            }
            Err(e) => {
                let detail = e.to_string();
                tracing::warn!(model = %w.name, %detail, "monitor drift check failed");
                self.trace(trace_id, "check_drift", &args, false, &detail, micros)
                    .await;
                (false, None, detail)
            }
        }
    }

    /// `check_performance` over the monitor's window (default the last 24 h).
    async fn quality(
        &self,
        w: &Watched,
        slot: DateTime<Utc>,
        trace_id: &str,
    ) -> (bool, Option<String>, String) {
        let started = std::time::Instant::now();
        let principal = Principal::new(monitor::PRINCIPAL, ["drift:read"], "monitor");
        let input = CheckPerformanceInput {
            model: w.name.clone(),
            last: w.spec.last.clone(),
            ..CheckPerformanceInput::default()
        };
        let args = json!({"model": w.name, "last": w.spec.last, "slot": slot.to_rfc3339()});
        let result = check_performance::check_performance(
            self.store.as_ref(),
            &principal,
            &input,
            &self.drift,
        )
        .await;
        let micros = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        match result {
            Ok(out) => {
                let detail = format!(
                    "quality: {}",
                    out.reasons.first().cloned().unwrap_or_default()
                );
                self.trace(trace_id, "check_performance", &args, true, &detail, micros)
                    .await;
                let change = alerts::on_quality(
                    self.store.as_ref(),
                    &self.traces,
                    trace_id,
                    monitor::PRINCIPAL,
                    &out,
                )
                .await;
                self.announce(change, &w.name);
                (true, Some(out.report_id), detail)
            }
            Err(e) => {
                let detail = format!("quality: {e}");
                tracing::warn!(model = %w.name, %detail, "monitor quality check failed");
                self.trace(trace_id, "check_performance", &args, false, &detail, micros)
                    .await;
                (false, None, detail)
            }
        }
    }
}
