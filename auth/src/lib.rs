//! Who is calling and what they may do: principals, bearer-token verification (HS256 secret,
//! identity-provider JWKS), scopes, the per-tool policy table and rate limits. No MCP and no
//! database here, so every transport and store shares it.

mod claims;
pub mod id_token;
pub mod jwks;
mod limits;
mod policy;
mod principal;
mod token;
mod verifier;

pub use claims::ClaimMapping;
pub use limits::{AddressLimiter, QuotaExceeded, RateLimits, RateQuota};
pub use mlops_domain::subject::{normalise_subject, same_subject};
pub use policy::{AuthzError, MissingPolicy, PolicyTable, ToolClass, ToolPolicy};
pub use principal::{Principal, scopes};
pub use token::{
    Algorithm, Claims, DEFAULT_MAX_LIFETIME_SECS, Hs256Keys, MIN_SECRET_BYTES, TokenError,
};
pub use verifier::Verifier;
