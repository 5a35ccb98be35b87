//! Who may call: token keys and claims, and the principal of a stdio session.

use mlops_auth::scopes;
use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// HS256 secret (at least 32 bytes). Prefer the env var `MLOPS_MCP_AUTH__HS256_SECRET`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub hs256_secret: Option<SecretString>,
    /// JWKS URL of an identity provider; enables RS256 and ES256 tokens signed by its keys.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Least time between two fetches of the JWKS (an unknown `kid` triggers one), in seconds.
    #[serde(default = "default_jwks_min_refresh")]
    pub jwks_min_refresh_secs: u64,
    /// How long fetched keys are used before they are fetched again, in seconds.
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age_secs: u64,
    /// This server's canonical resource URL (RFC 9728 `resource`), e.g.
    /// `https://mlops.example.com/mcp`. Default: `http://<http.bind>/mcp`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Authorization servers that issue tokens for this resource (RFC 9728 metadata).
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Expected `iss` claim.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// Expected `aud` claim.
    #[serde(default = "default_issuer")]
    pub audience: String,
    /// Clock skew tolerated for `exp`/`nbf`/`iat`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// Longest token lifetime (`exp - iat`) accepted, in seconds; longer tokens are refused, so a
    /// leaked token cannot serve for years. `token issue --ttl` is held to it too.
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime_secs: u64,
    /// Where an identity provider's tokens carry scopes and model grants besides `scope` and
    /// `scp`: role and group claims mapped to scopes, and the models claim.
    #[serde(default)]
    pub claims: ClaimsConfig,
}

/// `[auth.claims]`: how an identity provider's tokens grant (docs/security.md).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimsConfig {
    /// Claims holding roles or groups, as dotted paths: `roles` (Entra ID app roles),
    /// `realm_access.roles` or `groups` (Keycloak).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Role or group → the scopes it grants (`agent` stands for the agent scopes).
    #[serde(default)]
    pub role_scopes: std::collections::BTreeMap<String, Vec<String>>,
    /// The claim with the token's model-name globs, as a dotted path.
    #[serde(default = "default_models_claim")]
    pub models: String,
    /// Role or group → the model globs it grants. When set, a token sees the models its roles
    /// grant (and those its models claim names), and none if neither names any.
    #[serde(default)]
    pub role_models: std::collections::BTreeMap<String, Vec<String>>,
}

fn default_models_claim() -> String {
    "models".into()
}

impl Default for ClaimsConfig {
    fn default() -> Self {
        Self {
            roles: Vec::new(),
            role_scopes: std::collections::BTreeMap::new(),
            models: default_models_claim(),
            role_models: std::collections::BTreeMap::new(),
        }
    }
}

impl ClaimsConfig {
    /// The mapping the verifier applies, `agent` expanded.
    pub fn mapping(&self) -> mlops_auth::ClaimMapping {
        let expand = |granted: &Vec<String>| -> Vec<String> {
            granted
                .iter()
                .flat_map(|s| match s.as_str() {
                    "agent" => scopes::AGENT_DEFAULT
                        .iter()
                        .map(|a| (*a).to_owned())
                        .collect(),
                    other => vec![other.to_owned()],
                })
                .collect()
        };
        mlops_auth::ClaimMapping {
            role_claims: self.roles.clone(),
            role_scopes: self
                .role_scopes
                .iter()
                .map(|(role, granted)| (role.clone(), expand(granted)))
                .collect(),
            models_claim: self.models.clone(),
            role_models: self.role_models.clone(),
        }
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (role, granted) in &self.role_scopes {
            for s in granted {
                if s != "agent" && !scopes::ALL.contains(&s.as_str()) {
                    out.push(format!(
                        "auth.claims.role_scopes.{role:?} names {s:?}: unknown scope; known: {}, or `agent`",
                        scopes::ALL.join(", ")
                    ));
                }
            }
        }
        if self.models.trim().is_empty() {
            out.push(
                "auth.claims.models is empty: name the claim with model globs, e.g. \"models\""
                    .into(),
            );
        }
        if (!self.role_scopes.is_empty() || !self.role_models.is_empty()) && self.roles.is_empty() {
            out.push("auth.claims maps roles but names no claim to read them from: set auth.claims.roles, e.g. [\"roles\"]".into());
        }
        out
    }
}

pub(super) fn default_max_token_lifetime() -> u64 {
    mlops_auth::DEFAULT_MAX_LIFETIME_SECS
}

pub(super) fn default_issuer() -> String {
    "mlops-mcp".into()
}
pub(super) fn default_leeway() -> u64 {
    30
}
pub(super) fn default_jwks_min_refresh() -> u64 {
    30
}
pub(super) fn default_jwks_max_age() -> u64 {
    3600
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            jwks_url: None,
            jwks_min_refresh_secs: default_jwks_min_refresh(),
            jwks_max_age_secs: default_jwks_max_age(),
            resource: None,
            authorization_servers: Vec::new(),
            issuer: default_issuer(),
            audience: default_issuer(),
            leeway_secs: default_leeway(),
            max_token_lifetime_secs: default_max_token_lifetime(),
            claims: ClaimsConfig::default(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdioConfig {
    /// Principal name of the user who spawned the stdio server.
    #[serde(default = "default_principal")]
    pub principal: String,
    /// Scopes of that principal. `promotion:approve` is never allowed over stdio.
    #[serde(default = "default_stdio_scopes")]
    pub scopes: Vec<String>,
}

pub(super) fn default_principal() -> String {
    "local".into()
}
pub(super) fn default_stdio_scopes() -> Vec<String> {
    scopes::AGENT_DEFAULT
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

impl Default for StdioConfig {
    fn default() -> Self {
        Self {
            principal: default_principal(),
            scopes: default_stdio_scopes(),
        }
    }
}

impl AuthConfig {
    /// What is wrong with `[auth]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(secret) = &self.hs256_secret
            && secret.expose_secret().len() < mlops_auth::MIN_SECRET_BYTES
        {
            out.push(format!(
                "auth.hs256_secret is {} bytes: use at least {} random bytes (e.g. `openssl rand -hex 32`)",
                secret.expose_secret().len(),
                mlops_auth::MIN_SECRET_BYTES
            ));
        }
        if let Some(url) = &self.jwks_url
            && !(url.starts_with("https://")
                || url.starts_with("http://127.")
                || url.starts_with("http://localhost"))
        {
            out.push(format!(
                "auth.jwks_url = {url:?}: use https:// (plain http only on loopback)"
            ));
        }
        out.extend(self.claims.problems());
        out
    }
}

impl StdioConfig {
    /// What is wrong with `[stdio]`: each problem names its key and what to use instead.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.principal.trim().is_empty() {
            out.push("stdio.principal is empty: name the local user, e.g. \"local\"".into());
        }
        for (i, s) in self.scopes.iter().enumerate() {
            if s == scopes::PROMOTION_APPROVE {
                out.push(format!(
                    "stdio.scopes[{i}] = \"promotion:approve\": approval is never granted over stdio; remove it"
                ));
            } else if !scopes::ALL.contains(&s.as_str()) {
                out.push(format!(
                    "stdio.scopes[{i}] = {s:?}: unknown scope; known: {}",
                    scopes::ALL.join(", ")
                ));
            }
        }
        out
    }
}
