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
