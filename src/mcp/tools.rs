//! Tool definitions: each attaches a `mlops-tools` function and its typed input/output to rmcp.

use mlops_auth::Principal;
use mlops_tools::check_drift::{CheckDriftError, CheckDriftInput, CheckDriftOutput};
use mlops_tools::list_models::{ListModelsInput, ListModelsOutput};
use rmcp::handler::server::common::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};

use super::McpServer;

/// What an agent sees when something failed inside the server; details go to the log.
fn internal(error: impl std::fmt::Display) -> String {
    tracing::error!(%error, "tool failed");
    "the server could not complete this call because of an internal error; it has been logged. \
     Retry later, or ask an operator to check the server log."
        .into()
}

#[tool_router(vis = "pub(crate)")]
impl McpServer {
    /// List the ML models this server operates, with each model's champion (production)
    /// version and its evaluation metrics, the last drift verdict, the retraining job in
    /// progress and the promotion awaiting approval. Start here: the `name` of a model is what
    /// every other tool takes as `model`, and `next_step` says what to do next.
    #[tool(
        name = "list_models",
        annotations(
            title = "List models",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(crate) async fn list_models(
        &self,
        Parameters(input): Parameters<ListModelsInput>,
        Extension(principal): Extension<Principal>,
    ) -> Result<Json<ListModelsOutput>, String> {
        mlops_tools::list_models::list_models(self.app.store(), &principal, &input)
            .await
            .map(Json)
            .map_err(internal)
    }

    /// Check whether a model's production data has drifted from its training data. Each
    /// feature gets the statistical test Evidently would choose (or the one you name), its
    /// score and threshold, an effect size and a severity; the dataset drifts when the share of
    /// drifted features reaches the model's policy. Returns `recommended_action` (`none`,
    /// `investigate` or `retrain`) with the reasons, and a `report_id` to cite when you call
    /// trigger_retrain. The report is stored as `mlops://drift-reports/{report_id}`.
    #[tool(
        name = "check_drift",
        annotations(
            title = "Check data drift",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub(crate) async fn check_drift(
        &self,
        Parameters(input): Parameters<CheckDriftInput>,
        Extension(principal): Extension<Principal>,
    ) -> Result<Json<CheckDriftOutput>, String> {
        match mlops_tools::check_drift::check_drift(
            self.app.store(),
            self.app.drift(),
            &principal,
            &input,
        )
        .await
        {
            Ok(output) => Ok(Json(output)),
            Err(CheckDriftError::Store(e)) => Err(internal(e)),
            Err(refusal) => Err(refusal.to_string()),
        }
    }
}
