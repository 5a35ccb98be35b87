use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The OAuth scopes this server knows, as they appear in a token's `scope` claim.
pub mod scopes {
    pub const MODELS_READ: &str = "models:read";
    pub const DRIFT_READ: &str = "drift:read";
    pub const RETRAIN_TRIGGER: &str = "retrain:trigger";
    pub const VALIDATION_READ: &str = "validation:read";
    pub const PROMOTION_REQUEST: &str = "promotion:request";
    pub const PROMOTION_APPROVE: &str = "promotion:approve";
    pub const DATA_WRITE: &str = "data:write";
    /// Scraping `/metrics` on the main listener.
    pub const METRICS_READ: &str = "metrics:read";

    /// Every scope, in a stable order (used for `--scopes all` and documentation).
    pub const ALL: &[&str] = &[
        MODELS_READ,
        DRIFT_READ,
        RETRAIN_TRIGGER,
        VALIDATION_READ,
        PROMOTION_REQUEST,
        PROMOTION_APPROVE,
        DATA_WRITE,
        METRICS_READ,
    ];

    /// What a first call of an agent needs: reading models (the 401 challenge names it, so an
    /// OAuth client asks for little and steps up on a 403).
    pub const FIRST_CALL: &[&str] = &[MODELS_READ];

    /// What an agent is given by default: everything but approving promotions.
    pub const AGENT_DEFAULT: &[&str] = &[
        MODELS_READ,
        DRIFT_READ,
        RETRAIN_TRIGGER,
        VALIDATION_READ,
        PROMOTION_REQUEST,
    ];
}

/// An authenticated caller: a verified token's subject, or the `local` user of a stdio process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable identifier (`sub` claim, or the configured stdio principal name).
    pub subject: String,
    /// Granted scopes.
    pub scopes: BTreeSet<String>,
    /// Optional model-name globs this principal is limited to (`None`: all models).
    pub models: Option<Vec<String>>,
    /// How the principal was established, for traces: `jwt` or `stdio`.
    pub via: String,
    /// When its credential ends (Unix seconds): the token's `exp`, or a session's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl Principal {
    /// A principal with the given scopes and no model restriction.
    pub fn new(
        subject: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
        via: impl Into<String>,
    ) -> Self {
        Self {
            subject: subject.into(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            models: None,
            via: via.into(),
            expires_at: None,
        }
    }

    /// Whether the principal holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

impl Principal {
    /// Whether the principal's `models` grant (if any) covers `model`. Globs use `*` and `?`;
    /// a malformed glob grants nothing.
    pub fn may_access_model(&self, model: &str) -> bool {
        match &self.models {
            None => true,
            Some(globs) => globs
                .iter()
                .any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(model))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_grants_use_globs_and_default_to_everything() {
        let mut p = Principal::new("a", ["models:read"], "jwt");
        assert!(p.may_access_model("fraud-detector"));
        p.models = Some(vec!["fraud-*".into(), "[".into()]);
        assert!(p.may_access_model("fraud-detector"));
        assert!(!p.may_access_model("churn"));
    }
}
