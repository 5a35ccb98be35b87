//! What the promotion tools and the human decision share: their errors, the gate's settings
//! and the view of a request an agent gets. Every channel (tools, CLI, web page, webhook)
//! decides through [`crate::decide_promotion::decide`], so the rules hold whatever the channel.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::promotion::{DecisionRefused, Promotion, PromotionState};
use crate::registry::Registries;
use crate::store::StoreError;

/// A promotion request as an agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromotionView {
    #[serde(flatten)]
    pub promotion: Promotion,
    /// True if this call opened it; false if the model already had a request waiting.
    pub created: bool,
    /// Where a human approves or denies it.
    pub approval_url: String,
    pub uri: String,
    pub next_step: String,
}

/// Why a validation, request or decision could not be made. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("model `{0}` is not known; call list_models to see the models you may use")]
    UnknownModel(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Refused(#[from] DecisionRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Settings of the approval gate.
#[derive(Clone)]
pub struct GateSettings {
    /// How long a request waits for a decision.
    pub expiry: Duration,
    /// The approval page, e.g. `http://127.0.0.1:8080/approvals`.
    pub page_url: String,
    /// The models' MLflow registries, where they have one.
    pub registries: Registries,
}

pub(crate) fn page(settings: &GateSettings, id: &str) -> String {
    format!("{}/{id}", settings.page_url.trim_end_matches('/'))
}

pub(crate) fn promotion_view(
    p: Promotion,
    created: bool,
    settings: &GateSettings,
    now: DateTime<Utc>,
) -> PromotionView {
    let mut p = p;
    p.state = p.effective_state(now);
    let next_step = match p.state {
        PromotionState::PendingApproval => format!(
            "Wait for a human decision (until {}); check with get_promotion. You cannot approve it yourself.",
            p.expires_at.format("%Y-%m-%d %H:%M UTC")
        ),
        PromotionState::Promoting => "The promotion was approved and is being carried out; check again with get_promotion.".into(),
        PromotionState::Promoted => format!("{} is now the champion of {}.", p.candidate_version, p.model),
        PromotionState::Denied => "A human denied the promotion; read decision_note and report it. Do not request it again unchanged.".into(),
        PromotionState::Expired => "Nobody decided in time; request the promotion again if it is still wanted.".into(),
        PromotionState::Failed => "The promotion was approved but the evidence no longer held (see failure_reason); validate again and request a new promotion.".into(),
    };
    PromotionView {
        approval_url: page(settings, &p.id),
        uri: format!("mlops://promotions/{}", p.id),
        created,
        promotion: p,
        next_step,
    }
}
