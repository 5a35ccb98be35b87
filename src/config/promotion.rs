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
    /// Approvers sign in with the identity provider (OpenID Connect) instead of pasting a
    /// token; pasting is then refused.
    #[serde(default)]
    pub oidc: Option<ApproverOidcConfig>,
}

/// `[promotion.oidc]`: the approval page as a confidential OpenID Connect client.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproverOidcConfig {
    /// The provider's issuer (discovery at `{issuer}/.well-known/openid-configuration`);
    /// default `auth.issuer`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The page's client id at the provider; its redirect URI is `<page_url>/oidc/callback`.
    pub client_id: String,
    /// Environment variable holding the client's secret.
    pub client_secret_env: String,
    /// The ID token claim (a dotted path) with the person's groups or roles.
    #[serde(default = "default_approver_claim")]
    pub approver_claim: String,
    /// Values of that claim that make the person an approver.
    pub approver_values: Vec<String>,
    /// Scopes asked for besides `openid` (e.g. `groups`, if the provider puts the claim behind
    /// a scope).
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn default_approver_claim() -> String {
    "groups".into()
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
            oidc: None,
        }
    }
}

impl PromotionConfig {
    /// What is wrong with `[promotion]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(o) = &self.oidc {
            if o.client_id.trim().is_empty() {
                out.push("promotion.oidc.client_id is empty: name the approval page's client at the provider".into());
            }
            if o.approver_values.is_empty() {
                out.push(format!(
                    "promotion.oidc.approver_values is empty: name the values of `{}` that make someone an approver",
                    o.approver_claim
                ));
            }
        }
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
