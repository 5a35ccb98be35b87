use std::collections::BTreeMap;

use crate::Principal;
use crate::principal::scopes;

/// How dangerous a tool is; high-privilege tools change state outside the server's read model
/// and get stricter limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolClass {
    Read,
    HighPrivilege,
}

/// What calling one tool requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPolicy {
    pub scope: &'static str,
    pub class: ToolClass,
}

/// One entry per tool. The server refuses to start when a registered tool has no entry.
#[derive(Debug, Clone)]
pub struct PolicyTable {
    entries: BTreeMap<&'static str, ToolPolicy>,
}

/// A registered tool without a policy entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("tools without a policy entry (add them to the policy table): {}", .0.join(", "))]
pub struct MissingPolicy(pub Vec<String>);

/// Why a principal may not call a tool.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthzError {
    #[error(
        "calling `{tool}` requires the scope `{scope}`, which principal `{subject}` does not have; \
         ask an operator for a token with `{scope}`"
    )]
    MissingScope {
        tool: String,
        scope: String,
        subject: String,
    },
    #[error("`{0}` has no policy entry, so nobody may call it")]
    NoPolicy(String),
}

impl PolicyTable {
    /// The policy of the tools in DESIGN.md §4.
    pub fn standard() -> Self {
        use ToolClass::{HighPrivilege, Read};
        let entries = [
            ("list_models", scopes::MODELS_READ, Read),
            ("check_drift", scopes::DRIFT_READ, Read),
            // Quality reads the same monitoring rows as drift, and a principal that may see a
            // model's drift may see how well it predicts: one scope for both.
            ("check_performance", scopes::DRIFT_READ, Read),
            ("trigger_retrain", scopes::RETRAIN_TRIGGER, HighPrivilege),
            ("get_job", scopes::MODELS_READ, Read),
            ("get_validation", scopes::VALIDATION_READ, Read),
            (
                "request_promotion",
                scopes::PROMOTION_REQUEST,
                HighPrivilege,
            ),
            ("get_promotion", scopes::MODELS_READ, Read),
        ]
        .into_iter()
        .map(|(tool, scope, class)| (tool, ToolPolicy { scope, class }))
        .collect();
        Self { entries }
    }

    /// The tools that have a policy, in name order.
    pub fn tools(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.keys().copied()
    }

    /// The policy of `tool`, if it has one.
    pub fn get(&self, tool: &str) -> Option<&ToolPolicy> {
        self.entries.get(tool)
    }

    /// Fails with every name in `registered` that has no entry.
    pub fn check_covers<'a>(
        &self,
        registered: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), MissingPolicy> {
        let missing: Vec<String> = registered
            .into_iter()
            .filter(|name| !self.entries.contains_key(name))
            .map(str::to_owned)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(MissingPolicy(missing))
        }
    }

    /// Whether `principal` may call `tool`.
    pub fn authorize(&self, principal: &Principal, tool: &str) -> Result<&ToolPolicy, AuthzError> {
        let policy = self
            .entries
            .get(tool)
            .ok_or_else(|| AuthzError::NoPolicy(tool.to_owned()))?;
        if principal.has_scope(policy.scope) {
            Ok(policy)
        } else {
            Err(AuthzError::MissingScope {
                tool: tool.to_owned(),
                scope: policy.scope.to_owned(),
                subject: principal.subject.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_design_tool_has_a_policy_and_unknown_ones_are_reported() {
        let table = PolicyTable::standard();
        assert!(
            table
                .check_covers(["list_models", "check_drift", "request_promotion"])
                .is_ok()
        );
        assert_eq!(
            table.check_covers(["list_models", "delete_everything"]),
            Err(MissingPolicy(vec!["delete_everything".into()]))
        );
    }

    #[test]
    fn high_privilege_tools_are_classed_as_such() {
        let table = PolicyTable::standard();
        for tool in ["trigger_retrain", "request_promotion"] {
            assert_eq!(
                table.get(tool).map(|p| p.class),
                Some(ToolClass::HighPrivilege)
            );
        }
        assert_eq!(
            table.get("list_models").map(|p| p.class),
            Some(ToolClass::Read)
        );
    }

    #[test]
    fn authorize_names_the_missing_scope() {
        let table = PolicyTable::standard();
        let reader = Principal::new("agent", [scopes::MODELS_READ], "jwt");
        assert!(table.authorize(&reader, "list_models").is_ok());
        let err = table.authorize(&reader, "trigger_retrain").err();
        assert!(
            matches!(&err, Some(AuthzError::MissingScope { scope, .. }) if scope == "retrain:trigger")
        );
        assert!(
            err.map(|e| e.to_string())
                .unwrap_or_default()
                .contains("retrain:trigger")
        );
        assert_eq!(
            table.authorize(&reader, "nope").err(),
            Some(AuthzError::NoPolicy("nope".into()))
        );
    }
}
