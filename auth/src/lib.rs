//! Who is calling and what they may do: principals, bearer-token verification, scopes and the
//! per-tool policy table. No MCP and no database here, so every transport and store shares it.

mod policy;
mod principal;
mod token;

pub use policy::{AuthzError, MissingPolicy, PolicyTable, ToolClass, ToolPolicy};
pub use principal::{Principal, scopes};
pub use token::{Claims, Hs256Keys, MIN_SECRET_BYTES, TokenError, TokenVerifier};
