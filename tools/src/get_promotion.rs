//! Tool `get_promotion`: where a promotion request stands.

use chrono::Utc;
use mlops_auth::Principal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::store::Store;

use crate::promotion_gate::*;

/// Input of `get_promotion`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPromotionInput {
    /// The `id` request_promotion returned.
    pub request_id: String,
}

/// `get_promotion`.
pub async fn get_promotion(
    store: &dyn Store,
    principal: &Principal,
    id: &str,
    settings: &GateSettings,
) -> Result<PromotionView, ApprovalError> {
    let p = store
        .promotion(id)
        .await?
        .filter(|p| principal.may_access_model(&p.model))
        .ok_or_else(|| {
            ApprovalError::NotFound(format!(
                "promotion request `{id}` is not known; request_promotion returns request ids, and \
             list_models shows each model's pending request"
            ))
        })?;
    Ok(promotion_view(p, false, settings, Utc::now()))
}
