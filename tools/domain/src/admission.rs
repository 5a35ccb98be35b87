//! Admitting a retrain: a cooldown after a job, a maximum of jobs per day, a maximum of
//! concurrent jobs across models, and a circuit breaker that stops accepting triggers after
//! consecutive failures until a human resets it. A refusal says which limit and when a retry can
//! succeed. The store gathers the [`History`] inside the transaction that creates the job.

use chrono::{DateTime, Duration, Utc};

use crate::retrain_spec::RetrainSpec;

/// What the store knows about a model's past jobs when a trigger arrives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// When the model's most recent job ended.
    pub last_finished: Option<DateTime<Utc>>,
    /// Start times of the model's jobs in the last 24 hours.
    pub started_last_day: Vec<DateTime<Utc>>,
    /// Active jobs across all models.
    pub active_all_models: u32,
    /// Failed jobs of the model since its last success (or reset).
    pub consecutive_failures: u32,
}

/// A trigger refused by a cost control.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "cooldown: the last job of this model ended less than {cooldown_secs} s ago; retry after {retry_at}"
    )]
    Cooldown {
        cooldown_secs: u64,
        retry_at: DateTime<Utc>,
    },
    #[error(
        "daily limit: {max} jobs of this model started in the last 24 hours; retry after {retry_at}"
    )]
    DailyLimit { max: u32, retry_at: DateTime<Utc> },
    #[error(
        "concurrency limit: {max} retraining jobs are running across models; retry when one finishes (see get_job)"
    )]
    Concurrency { max: u32 },
    #[error(
        "circuit breaker open: the last {failures} jobs of this model failed; a human must run `mlops-mcp jobs reset-breaker {model}` before retraining again"
    )]
    BreakerOpen { failures: u32, model: String },
}

/// Checks every cost control; the first that refuses is the answer.
pub fn check(
    model: &str,
    spec: &RetrainSpec,
    history: &History,
    max_concurrent: u32,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if history.consecutive_failures >= spec.breaker_after_failures {
        return Err(Refusal::BreakerOpen {
            failures: history.consecutive_failures,
            model: model.to_owned(),
        });
    }
    if let Some(ended) = history.last_finished {
        let ready =
            ended + Duration::seconds(i64::try_from(spec.cooldown_secs).unwrap_or(i64::MAX));
        if now < ready {
            return Err(Refusal::Cooldown {
                cooldown_secs: spec.cooldown_secs,
                retry_at: ready,
            });
        }
    }
    let day_ago = now - Duration::hours(24);
    let mut recent: Vec<DateTime<Utc>> = history
        .started_last_day
        .iter()
        .copied()
        .filter(|t| *t > day_ago)
        .collect();
    let max = spec.max_jobs_per_day as usize;
    recent.sort();
    // A slot frees when the oldest of the last `max` starts is a day old.
    if let Some(oldest) = recent.len().checked_sub(max).and_then(|i| recent.get(i)) {
        return Err(Refusal::DailyLimit {
            max: spec.max_jobs_per_day,
            retry_at: *oldest + Duration::hours(24),
        });
    }
    if history.active_all_models >= max_concurrent {
        return Err(Refusal::Concurrency {
            max: max_concurrent,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RetrainSpec {
        toml::from_str("command = [\"train\"]\ncooldown_secs = 600\nmax_jobs_per_day = 2\nbreaker_after_failures = 2").unwrap()
    }

    #[test]
    fn each_limit_refuses_with_when_to_retry() {
        let now = Utc::now();
        let s = spec();
        assert_eq!(check("m", &s, &History::default(), 1, now), Ok(()));

        let cooling = History {
            last_finished: Some(now - Duration::seconds(60)),
            ..History::default()
        };
        let e = check("m", &s, &cooling, 1, now).unwrap_err();
        assert_eq!(
            e,
            Refusal::Cooldown {
                cooldown_secs: 600,
                retry_at: now + Duration::seconds(540)
            }
        );
        assert!(e.to_string().contains("retry after"));

        let busy_day = History {
            started_last_day: vec![
                now - Duration::hours(30),
                now - Duration::hours(20),
                now - Duration::hours(2),
            ],
            ..History::default()
        };
        assert_eq!(
            check("m", &s, &busy_day, 1, now),
            Err(Refusal::DailyLimit {
                max: 2,
                retry_at: now + Duration::hours(4)
            })
        );

        let crowded = History {
            active_all_models: 1,
            ..History::default()
        };
        assert_eq!(
            check("m", &s, &crowded, 1, now),
            Err(Refusal::Concurrency { max: 1 })
        );

        let failing = History {
            consecutive_failures: 2,
            ..History::default()
        };
        let e = check("m", &s, &failing, 1, now).unwrap_err();
        assert!(
            e.to_string().contains("mlops-mcp jobs reset-breaker m"),
            "{e}"
        );
    }
}
