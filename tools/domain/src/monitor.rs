//! Monitors the server runs by itself: when a model's next check is due, and which slot a run
//! belongs to. A slot is the start of one scheduled period; replicas claim a slot in the store,
//! so each runs once. After downtime only the newest due slot runs (missed ones are not
//! replayed), and runs of many models are spread over the period by a hash of the model name.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[models.monitor]`: a check the server runs on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// Run every period, e.g. `"1h"`, `"15m"` (at least 1 s). Runs of different models are
    /// offset within the period by a hash of their name. Give this or `cron`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Run at the times of a 5-field cron pattern (UTC), e.g. `"0 * * * *"` for every hour;
    /// each run starts within `spread` after the pattern's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// For `cron`: runs start within this long after the pattern's time (default `"1m"`), by
    /// a hash of the model name, so a fleet does not start in one second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<String>,
    /// The window of ingested rows to check, e.g. `"1h"`; none checks the model's configured
    /// `current_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// What to run: `["drift"]` (the default), `["quality"]` or both.
    #[serde(default = "default_checks")]
    pub run: Vec<Check>,
    /// Off pauses the monitor without removing it.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_checks() -> Vec<Check> {
    vec![Check::Drift]
}

fn yes() -> bool {
    true
}

/// One kind of check a monitor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// `check_drift` over the monitor's window.
    Drift,
    /// `check_performance` over the monitor's window (default the last 24 h): the report is
    /// stored and `list_models` shows a degraded model as `quality_retrain`.
    Quality,
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron {
        pattern: Box<croner::Cron>,
        spread: Duration,
    },
}

/// How a monitor run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The check ran and its report is stored.
    Ok,
    /// The check could not run (missing file, too little data, …): `detail` says why.
    Failed,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ok, Self::Failed]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One claimed slot of a model's monitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MonitorRun {
    pub model: String,
    /// The start of the scheduled period this run belongs to.
    pub slot: DateTime<Utc>,
    /// The replica that claimed it.
    pub replica: String,
    pub claimed_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `None` while the run is going.
    pub outcome: Option<RunOutcome>,
    /// The drift report it stored.
    pub report_id: Option<String>,
    /// Why it failed, or the verdict in words.
    pub detail: String,
}

/// The principal monitor runs act as in the trace.
pub const PRINCIPAL: &str = "mlops-mcp:monitor";

impl MonitorSpec {
    /// The schedule, or what is wrong with it (naming the field under `at`).
    pub fn schedule(&self, at: &str) -> Result<Schedule, String> {
        let period = |field: &str, text: &str| {
            humantime::parse_duration(text.trim())
                .map_err(|e| format!("{at}.{field} = {text:?}: {e} (use e.g. \"30s\", \"1h\")"))
        };
        match (&self.every, &self.cron) {
            (Some(every), None) => {
                let d = period("every", every)?;
                if d < Duration::from_secs(1) {
                    return Err(format!("{at}.every = {every:?}: at least \"1s\""));
                }
                Ok(Schedule::Every(d))
            }
            (None, Some(cron)) => {
                let pattern = croner::Cron::from_str(cron.trim()).map_err(|e| {
                    format!("{at}.cron = {cron:?}: {e} (use 5 fields, e.g. \"0 * * * *\")")
                })?;
                let spread = match &self.spread {
                    Some(s) => period("spread", s)?,
                    None => Duration::from_secs(60),
                };
                Ok(Schedule::Cron {
                    pattern: Box::new(pattern),
                    spread,
                })
            }
            (Some(_), Some(_)) => Err(format!("{at}: give `every` or `cron`, not both")),
            (None, None) => Err(format!(
                "{at}: give a schedule, `every = \"1h\"` or `cron = \"0 * * * *\"`"
            )),
        }
    }

    /// Problems a user must fix.
    pub fn problems(&self, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.schedule(at) {
            out.push(e);
        }
        if let Some(last) = &self.last
            && humantime::parse_duration(last.trim()).is_err()
        {
            out.push(format!(
                "{at}.last = {last:?}: use a duration such as \"1h\" or \"7d\""
            ));
        }
        if self.every.is_some() && self.spread.is_some() {
            out.push(format!(
                "{at}.spread: only for `cron` (an `every` schedule spreads its runs over the period)"
            ));
        }
        if self.run.is_empty() {
            out.push(format!(
                "{at}.run = []: name at least one check, e.g. [\"drift\"]"
            ));
        }
        out
    }
}

/// A stable offset in `0..period` for `model` (FNV-1a of the name): the same on every replica
/// and every start, different across models.
pub fn offset(model: &str, period: Duration) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in model.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(h % ms)
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Schedule {
    /// The newest slot of `model` whose run is due at `now`: its start, and when it became due.
    /// `None` if no slot has come yet (a cron pattern that never matched before `now`).
    pub fn due_slot(&self, model: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(period) => {
                let period_ms = i64::try_from(period.as_millis()).ok()?.max(1);
                let off = i64::try_from(offset(model, *period).as_millis()).ok()?;
                let t = now.timestamp_millis() - off;
                let slot = t.div_euclid(period_ms) * period_ms + off;
                DateTime::from_timestamp_millis(slot)
            }
            Schedule::Cron { pattern, spread } => {
                let off = delta(offset(model, *spread));
                let mut slot = pattern.find_previous_occurrence(&now, true).ok()?;
                if slot + off > now {
                    // This occurrence's run is not due yet: the one before it is.
                    slot = pattern.find_previous_occurrence(&slot, false).ok()?;
                }
                Some(slot)
            }
        }
    }

    /// When the slot after `slot` becomes due.
    pub fn next_due(&self, model: &str, slot: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(period) => Some(slot + delta(*period)),
            Schedule::Cron { pattern, spread } => {
                let next = pattern.find_next_occurrence(&slot, false).ok()?;
                Some(next + delta(offset(model, *spread)))
            }
        }
    }

    /// The time a slot's run is due (a cron slot's run waits for the model's spread offset).
    pub fn due_at(&self, model: &str, slot: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Every(_) => slot,
            Schedule::Cron { spread, .. } => slot + delta(offset(model, *spread)),
        }
    }

    /// The length of one period (for a cron pattern, the gap after `slot`): a monitor whose last
    /// finished run is older than two of these has missed its runs.
    pub fn period_after(&self, slot: DateTime<Utc>) -> Duration {
        match self {
            Schedule::Every(period) => *period,
            Schedule::Cron { pattern, .. } => pattern
                .find_next_occurrence(&slot, false)
                .ok()
                .and_then(|n| (n - slot).to_std().ok())
                .unwrap_or(Duration::from_secs(3600)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn every(text: &str) -> Schedule {
        MonitorSpec {
            every: Some(text.into()),
            cron: None,
            spread: None,
            last: None,
            run: default_checks(),
            enabled: true,
        }
        .schedule("m")
        .unwrap()
    }

    #[test]
    fn an_interval_slot_is_stable_within_its_period_and_moves_at_its_end() {
        let s = every("1h");
        let now = at("2026-12-06T10:30:00Z");
        let slot = s.due_slot("churn", now).unwrap();
        assert!(slot <= now && now - slot < TimeDelta::hours(1));
        // Any time until the next slot maps to the same slot: a missed stretch runs once.
        let later = slot + TimeDelta::minutes(59);
        assert_eq!(s.due_slot("churn", later), Some(slot));
        let next = s.next_due("churn", slot).unwrap();
        assert_eq!(s.due_slot("churn", next), Some(next));
    }

    #[test]
    fn downtime_of_many_periods_yields_only_the_newest_slot() {
        let s = every("10s");
        let before = s.due_slot("m", at("2026-12-06T10:00:00Z")).unwrap();
        let after = s.due_slot("m", at("2026-12-06T11:00:00Z")).unwrap();
        assert!(after - before >= TimeDelta::minutes(59));
        assert!(at("2026-12-06T11:00:00Z") - after < TimeDelta::seconds(10));
    }

    #[test]
    fn offsets_spread_a_fleet_over_the_period() {
        let period = Duration::from_secs(3600);
        let offsets: Vec<u64> = (0..500)
            .map(|i| offset(&format!("model-{i:04}"), period).as_secs())
            .collect();
        // In every 6-minute tenth of the hour some runs start, and none holds a third of them.
        for tenth in 0..10 {
            let n = offsets.iter().filter(|o| **o / 360 == tenth).count();
            assert!(n > 10 && n < 170, "tenth {tenth}: {n} runs");
        }
        assert_eq!(offset("a", period), offset("a", period));
    }

    #[test]
    fn a_cron_slot_waits_for_its_spread_offset() {
        let spec = MonitorSpec {
            every: None,
            cron: Some("0 * * * *".into()),
            spread: Some("10m".into()),
            last: None,
            run: default_checks(),
            enabled: true,
        };
        let s = spec.schedule("m").unwrap();
        let off = offset("fraud", Duration::from_secs(600));
        let hour = at("2026-12-06T10:00:00Z");
        let due = s.due_at("fraud", hour);
        assert_eq!(due, hour + delta(off));
        // Just before its offset the 10:00 run is not due: the 09:00 slot is the newest due.
        if off > Duration::from_secs(1) {
            let just_before = due - TimeDelta::seconds(1);
            assert_eq!(
                s.due_slot("fraud", just_before),
                Some(at("2026-12-06T09:00:00Z"))
            );
        }
        assert_eq!(s.due_slot("fraud", due), Some(hour));
        assert_eq!(s.period_after(hour), Duration::from_secs(3600));
    }

    #[test]
    fn bad_schedules_name_the_field() {
        let mut spec = MonitorSpec {
            every: Some("soon".into()),
            cron: None,
            spread: None,
            last: Some("a while".into()),
            run: vec![],
            enabled: true,
        };
        let p = spec.problems("models[3].monitor");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("models[3].monitor.every = \"soon\""));
        spec.every = None;
        spec.cron = Some("61 * * * *".into());
        assert!(spec.problems("x")[0].starts_with("x.cron = \"61 * * * *\""));
        spec.every = Some("1h".into());
        assert!(spec.problems("x")[0].contains("not both"));
    }
}
