//! Promotion requests: expiry, the approval page and its sessions, webhooks.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionConfig {
    /// How long a promotion request waits for a human decision, in seconds.
    #[serde(default = "default_expiry")]
    pub expiry_secs: u64,
    /// The approval page's address as approvers reach it (default `http://<http.bind>/approvals`).
    #[serde(default)]
    pub page_url: Option<String>,
    /// Where to announce each new request and each decision.
    #[serde(default)]
    pub webhooks: Vec<WebhookTarget>,
    /// Environment variable with the secret that signs decision callbacks
    /// (`POST /approvals/callback`); unset: callbacks are refused.
    #[serde(default)]
    pub callback_secret_env: Option<String>,
    /// How long an approval page session lasts, in seconds (never past the token it began with).
    #[serde(default = "default_session_secs")]
    pub session_secs: u64,
}

pub(super) fn default_session_secs() -> u64 {
    8 * 3600
}

/// One receiver of promotion announcements.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: String,
    /// `standard` (JSON signed with Standard Webhooks headers) or `slack` (a message with links).
    #[serde(default)]
    pub format: WebhookFormat,
    /// `standard`: environment variable holding the signing secret (`whsec_<base64>` or any string).
    #[serde(default)]
    pub secret_env: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Standard,
    Slack,
}

pub(super) fn default_expiry() -> u64 {
    24 * 3600
}

impl Default for PromotionConfig {
    fn default() -> Self {
        Self {
            expiry_secs: default_expiry(),
            page_url: None,
            webhooks: Vec::new(),
            callback_secret_env: None,
            session_secs: default_session_secs(),
        }
    }
}

impl PromotionConfig {
    /// What is wrong with `[promotion]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            if !(w.url.starts_with("https://") || w.url.starts_with("http://")) {
                out.push(format!(
                    "promotion.webhooks[{i}].url = {:?}: use an http:// or https:// URL",
                    w.url
                ));
            }
            if w.format == WebhookFormat::Standard && w.secret_env.is_none() {
                out.push(format!(
                    "promotion.webhooks[{i}].secret_env: a standard webhook is signed; name the environment variable with its secret"
                ));
            }
        }
        if self.expiry_secs == 0 {
            out.push("promotion.expiry_secs = 0: use a positive number of seconds".into());
        }
        out
    }
}
