//! Promotion requests: a candidate that passed validation, bound to its evidence (the
//! candidate's artifact digest, the validation report's digest and the champion at request
//! time), waiting for a human with `promotion:approve`. The server enforces the rules whatever
//! the channel: the requester never approves its own request, the first decision wins, an
//! expired request cannot be approved, and the evidence is checked again right before the
//! alias moves.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::subject::same_subject;

/// A request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionState {
    PendingApproval,
    Denied,
    Expired,
    /// Approved; the preconditions are being checked and the alias moved.
    Promoting,
    Promoted,
    /// Approved, but a precondition no longer held (or the registry failed): nothing moved.
    Failed,
}

impl PromotionState {
    pub const ALL: [PromotionState; 6] = [
        PromotionState::PendingApproval,
        PromotionState::Denied,
        PromotionState::Expired,
        PromotionState::Promoting,
        PromotionState::Promoted,
        PromotionState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PromotionState::PendingApproval => "pending_approval",
            PromotionState::Denied => "denied",
            PromotionState::Expired => "expired",
            PromotionState::Promoting => "promoting",
            PromotionState::Promoted => "promoted",
            PromotionState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A promotion request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Promotion {
    pub id: String,
    pub model: String,
    pub candidate_version: String,
    pub validation_id: String,
    pub justification: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Evidence the request is bound to.
    pub candidate_digest: String,
    pub validation_digest: String,
    pub champion_at_request: Option<String>,
    /// Back to a former champion: the validation is evidence for the approver, not a gate.
    #[serde(default)]
    pub rollback: bool,
    pub state: PromotionState,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The approver's note or the reason for a denial.
    pub decision_note: Option<String>,
    /// Why an approved promotion failed.
    pub failure_reason: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub trace_id: Option<String>,
}

impl Promotion {
    /// The state as callers should see it: a pending request past its expiry is expired.
    pub fn effective_state(&self, now: DateTime<Utc>) -> PromotionState {
        if self.state == PromotionState::PendingApproval && now >= self.expires_at {
            PromotionState::Expired
        } else {
            self.state
        }
    }
}

/// A request to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPromotion {
    pub id: String,
    pub model: String,
    pub candidate_version: String,
    pub validation_id: String,
    pub justification: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub candidate_digest: String,
    pub validation_digest: String,
    pub champion_at_request: Option<String>,
    pub rollback: bool,
    pub trace_id: Option<String>,
}

/// A human's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Approve { note: Option<String> },
    Deny { reason: String },
}

/// Why a decision was not taken. Each says what the decider can do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecisionRefused {
    #[error("promotion request `{0}` is not known")]
    Unknown(String),
    #[error(
        "`{0}` requested this promotion and cannot decide it; another person with promotion:approve must"
    )]
    OwnRequest(String),
    #[error("the request expired at {0}; the agent must request the promotion again")]
    Expired(DateTime<Utc>),
    #[error("the request was already decided: it is {0}")]
    AlreadyDecided(&'static str),
}

impl DecisionRefused {
    /// Why `by` may not decide `current` at `now`, if it may not: it was decided already, `by`
    /// asked for it (compared as [`same_subject`]), or it expired.
    pub fn of(current: &Promotion, by: &str, now: DateTime<Utc>) -> Option<Self> {
        if current.state != PromotionState::PendingApproval {
            Some(Self::AlreadyDecided(current.state.as_str()))
        } else if same_subject(&current.requested_by, by) {
            Some(Self::OwnRequest(by.to_owned()))
        } else if now >= current.expires_at {
            Some(Self::Expired(current.expires_at))
        } else {
            None
        }
    }
}

/// What opening a request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    New(Promotion),
    /// The model already has a request waiting for a decision: that one.
    Existing(Promotion),
}
