//! Whether an approved promotion's evidence still holds when it is applied. The store gathers
//! the current state inside the transaction that moves the alias and asks [`broken`].

use sha2::{Digest as _, Sha256};

use crate::promotion::Promotion;
use crate::validation::{Validation, Verdict};

/// What the store finds now about a promotion's candidate, validation and champion.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The candidate's artifact digest, if the version is still registered.
    pub candidate_digest: Option<String>,
    /// The validation's stored report digest and body, if it is still stored.
    pub validation: Option<(String, Validation)>,
    /// The version the champion alias points at.
    pub champion: Option<String>,
}

/// Why the promotion may not proceed, or `None` if its evidence still holds: the candidate is
/// registered with the same artifact, the validation report is the one the request was bound
/// to (stored digest, recomputed digest and the report's own digest all agree), it passed (or
/// the request is a rollback), and the champion is the one the approver saw.
pub fn broken(p: &Promotion, now: &Evidence) -> Option<String> {
    match &now.candidate_digest {
        None => {
            return Some(format!(
                "candidate {} is no longer registered",
                p.candidate_version
            ));
        }
        Some(d) if *d != p.candidate_digest => {
            return Some(format!(
                "the candidate's artifact changed since the request (digest {d}, requested {})",
                p.candidate_digest
            ));
        }
        Some(_) => {}
    }
    let Some((stored_digest, v)) = &now.validation else {
        return Some(format!("validation {} is gone", p.validation_id));
    };
    let actual = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(v.report.as_bytes()))
    );
    if *stored_digest != p.validation_digest
        || actual != p.validation_digest
        || v.report_digest != actual
    {
        return Some(format!(
            "the validation report changed since the request (digest {actual}, requested {})",
            p.validation_digest
        ));
    }
    if v.verdict != Verdict::Passed && !p.rollback {
        return Some("the validation did not pass".into());
    }
    if now.champion != p.champion_at_request {
        return Some(format!(
            "the champion changed since the request (now {}, then {})",
            now.champion.as_deref().unwrap_or("none"),
            p.champion_at_request.as_deref().unwrap_or("none")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::promotion::PromotionState;
    use crate::validation::BaselineSource;

    fn validation(report: &str, verdict: Verdict) -> Validation {
        Validation {
            other_metrics: Vec::new(),
            segments: Vec::new(),
            id: "val-1".into(),
            model: "m".into(),
            candidate_version: "v2".into(),
            candidate_digest: "sha256:aa".into(),
            champion_version: Some("v1".into()),
            baseline_source: BaselineSource::Registered,
            job_id: None,
            checks: Vec::new(),
            verdict,
            reasons: Vec::new(),
            report: report.into(),
            report_digest: digest(report),
            metrics_source: String::new(),
            created_by: "agent".into(),
            created_at: Utc::now(),
        }
    }

    fn digest(text: &str) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
    }

    fn promotion() -> Promotion {
        let now = Utc::now();
        Promotion {
            id: "p-1".into(),
            model: "m".into(),
            candidate_version: "v2".into(),
            validation_id: "val-1".into(),
            justification: "better".into(),
            requested_by: "agent".into(),
            requested_at: now,
            expires_at: now,
            candidate_digest: "sha256:aa".into(),
            validation_digest: digest("report"),
            champion_at_request: Some("v1".into()),
            rollback: false,
            state: PromotionState::Promoting,
            decided_by: None,
            decided_at: None,
            decision_note: None,
            failure_reason: None,
            finished_at: None,
            trace_id: None,
        }
    }

    fn holding() -> Evidence {
        Evidence {
            candidate_digest: Some("sha256:aa".into()),
            validation: Some((digest("report"), validation("report", Verdict::Passed))),
            champion: Some("v1".into()),
        }
    }

    #[test]
    fn evidence_that_still_holds_lets_the_promotion_proceed() {
        assert_eq!(broken(&promotion(), &holding()), None);
    }

    #[test]
    fn each_change_since_the_request_is_named() {
        let p = promotion();
        let gone = Evidence {
            candidate_digest: None,
            ..holding()
        };
        assert_eq!(
            broken(&p, &gone).as_deref(),
            Some("candidate v2 is no longer registered")
        );
        let swapped = Evidence {
            candidate_digest: Some("sha256:bb".into()),
            ..holding()
        };
        assert!(broken(&p, &swapped).unwrap().contains("artifact changed"));
        let no_validation = Evidence {
            validation: None,
            ..holding()
        };
        assert_eq!(
            broken(&p, &no_validation).as_deref(),
            Some("validation val-1 is gone")
        );
        // The body edited but its stored digest left alone: the recomputed digest differs.
        let edited = Evidence {
            validation: Some((digest("report"), validation("edited", Verdict::Passed))),
            ..holding()
        };
        assert!(broken(&p, &edited).unwrap().contains("report changed"));
        let failed = Evidence {
            validation: Some((digest("report"), validation("report", Verdict::Failed))),
            ..holding()
        };
        assert_eq!(
            broken(&p, &failed).as_deref(),
            Some("the validation did not pass")
        );
        let moved = Evidence {
            champion: Some("v9".into()),
            ..holding()
        };
        assert!(broken(&p, &moved).unwrap().contains("now v9, then v1"));
    }

    #[test]
    fn a_rollback_may_use_a_validation_that_did_not_pass() {
        let p = Promotion {
            rollback: true,
            ..promotion()
        };
        let failed = Evidence {
            validation: Some((digest("report"), validation("report", Verdict::Failed))),
            ..holding()
        };
        assert_eq!(broken(&p, &failed), None);
    }
}
