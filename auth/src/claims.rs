//! What a verified token grants: its scopes and the models it may see, read from the claims
//! identity providers actually issue.
//!
//! - Scopes: the OAuth `scope` claim (space-separated), `scp` (Entra ID: a string or an array),
//!   and every role or group found in the configured claims (`roles` for Entra ID,
//!   `realm_access.roles` or `groups` for Keycloak: dotted paths into nested objects), mapped to
//!   scopes by the operator's table. A role the table does not name grants nothing.
//! - Models: the configured claim (default `models`: an array of globs, or a space-separated
//!   string); no claim means every model. With a role table for models, a token sees what its
//!   roles grant there besides its claim, and nothing if neither grants anything.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// How claims map to scopes and model grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// Claims holding roles or groups, as dotted paths.
    pub role_claims: Vec<String>,
    /// Role or group → scopes.
    pub role_scopes: BTreeMap<String, Vec<String>>,
    /// The claim with model-name globs, as a dotted path.
    pub models_claim: String,
    /// Role or group → model globs.
    pub role_models: BTreeMap<String, Vec<String>>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            role_claims: Vec::new(),
            role_scopes: BTreeMap::new(),
            models_claim: "models".into(),
            role_models: BTreeMap::new(),
        }
    }
}

/// The value at a dotted path (`realm_access.roles`), if any.
fn at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The words of a claim: an array of strings, or a space-separated string.
fn words(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

impl ClaimMapping {
    /// The roles and groups the token carries in the configured claims.
    fn roles(&self, claims: &Map<String, Value>) -> BTreeSet<String> {
        self.role_claims
            .iter()
            .flat_map(|c| words(at(claims, c)))
            .collect()
    }

    /// The scopes the claims grant.
    pub fn scopes(&self, claims: &Map<String, Value>) -> BTreeSet<String> {
        let mut scopes: BTreeSet<String> = words(claims.get("scope")).into_iter().collect();
        scopes.extend(words(claims.get("scp")));
        for role in self.roles(claims) {
            if let Some(granted) = self.role_scopes.get(&role) {
                scopes.extend(granted.iter().cloned());
            }
        }
        scopes
    }

    /// The model globs the claims grant; `None` is every model. A models claim that is neither
    /// a string nor an array of strings is an error: a grant that cannot be read is refused,
    /// never read as "every model".
    pub fn models(&self, claims: &Map<String, Value>) -> Result<Option<Vec<String>>, String> {
        let claimed = match at(claims, &self.models_claim) {
            None => None,
            Some(v @ Value::String(_)) => Some(words(Some(v))),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                Some(words(Some(&Value::Array(items.clone()))))
            }
            Some(_) => {
                return Err(format!(
                    "the `{}` claim is not a list of model globs",
                    self.models_claim
                ));
            }
        };
        if self.role_models.is_empty() {
            return Ok(claimed);
        }
        let mut globs: BTreeSet<String> = claimed.unwrap_or_default().into_iter().collect();
        for role in self.roles(claims) {
            if let Some(granted) = self.role_models.get(&role) {
                globs.extend(granted.iter().cloned());
            }
        }
        Ok(Some(globs.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn mapping() -> ClaimMapping {
        ClaimMapping {
            role_claims: vec!["roles".into(), "realm_access.roles".into(), "groups".into()],
            role_scopes: BTreeMap::from([
                (
                    "MLOps.Agent".into(),
                    vec!["models:read".into(), "drift:read".into()],
                ),
                ("mlops-agent".into(), vec!["models:read".into()]),
                ("mlops-approvers".into(), vec!["promotion:approve".into()]),
            ]),
            ..ClaimMapping::default()
        }
    }

    #[test]
    fn entra_and_keycloak_roles_become_scopes() {
        let m = mapping();
        let entra = claims(json!({"roles": ["MLOps.Agent", "Other"], "scp": "metrics:read"}));
        let got: Vec<String> = m.scopes(&entra).into_iter().collect();
        assert_eq!(got, ["drift:read", "metrics:read", "models:read"]);
        let keycloak =
            claims(json!({"realm_access": {"roles": ["mlops-agent"]}, "scope": "openid"}));
        let got: Vec<String> = m.scopes(&keycloak).into_iter().collect();
        assert_eq!(got, ["models:read", "openid"]);
        let groups = claims(json!({"groups": ["mlops-approvers"]}));
        assert!(m.scopes(&groups).contains("promotion:approve"));
        // Without a table, roles grant nothing: only `scope` and `scp` count.
        assert!(ClaimMapping::default().scopes(&entra).len() == 1);
        // Odd shapes grant nothing rather than fail.
        let odd = claims(json!({"roles": {"x": 1}, "realm_access": "mlops-agent", "scp": 7}));
        assert!(m.scopes(&odd).is_empty());
    }

    #[test]
    fn model_grants_come_from_the_claim_or_the_role_table() {
        let plain = ClaimMapping::default();
        assert_eq!(
            plain.models(&claims(json!({}))),
            Ok(None),
            "no claim: every model"
        );
        assert_eq!(
            plain.models(&claims(json!({"models": "fraud-* churn"}))),
            Ok(Some(vec!["fraud-*".into(), "churn".into()]))
        );
        for odd in [json!(7), json!({"a": 1}), json!(["x", 1])] {
            assert!(plain.models(&claims(json!({ "models": odd }))).is_err());
        }
        let by_role = ClaimMapping {
            role_claims: vec!["groups".into()],
            role_models: BTreeMap::from([("team-a".into(), vec!["a-*".into()])]),
            models_claim: "mlops.models".into(),
            ..ClaimMapping::default()
        };
        assert_eq!(
            by_role.models(&claims(
                json!({"groups": ["team-a"], "mlops": {"models": ["x"]}})
            )),
            Ok(Some(vec!["a-*".into(), "x".into()]))
        );
        assert_eq!(
            by_role.models(&claims(json!({"groups": ["team-b"]}))),
            Ok(Some(Vec::new())),
            "a role table grants nothing to a role it does not name"
        );
    }
}
