//! The `monitor_model` prompt: the playbook of the closed loop for one model.

use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};

pub const MONITOR_MODEL: &str = "monitor_model";

pub fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            MONITOR_MODEL,
            Some(
                "Playbook for operating one model end to end: check drift, retrain if the \
                 policy says so, validate the candidate against the champion, request \
                 promotion for a human to approve, and report.",
            ),
            Some(vec![
                PromptArgument::new("model")
                    .with_description("Name of the model to monitor (see list_models).")
                    .with_required(true),
            ]),
        )
        .with_title("Monitor a model"),
    ]
}

pub fn monitor_model(model: &str) -> GetPromptResult {
    let text = format!(
        "You are operating the production ML model `{model}` through the mlops-mcp tools. \
Follow this playbook and keep a short log of what you did and why.

1. Orient: call `list_models` and read the model card resource `mlops://models/{model}/card` \
(owner, champion version and metrics, decision thresholds, limitations).
2. Check drift: call `check_drift` with model `{model}`. Read `recommended_action` and its reasons.
   - `none`: stop here and report that the model is healthy.
   - `investigate`: report which features drifted and why, and stop; do not retrain.
   - `retrain`: continue.
3. Retrain: call `trigger_retrain` with the model, a one-sentence reason that cites the drift \
report id, and the drift report id. If it returns an existing active job, use that job. If it \
is refused (cooldown, budget, circuit breaker), report the refusal and when a retry can succeed; \
do not try to work around it.
4. Wait: call `get_job` with the job id and `wait_seconds` 60, again until its state is \
`succeeded`, `failed` or `cancelled`. \
If it failed, report the reason from the log tail and stop.
5. Validate: call `get_validation` for the produced candidate version. Read every metric's \
pass/fail and the verdict.
   - Failed: report which rules failed and stop. Never request promotion of a failed candidate.
6. Request promotion: call `request_promotion` with the model, candidate version, validation id \
and a justification that cites the drift report and the validation. A human approves or denies \
it; you cannot approve it yourself and must not ask anyone to bypass the approval.
7. Report: summarise the chain — drift report id, job id, candidate version, validation verdict, \
promotion request id and its approval URL — and the trace id from the tool results' `_meta` so \
a reviewer can read `mlops://traces/{{id}}`.

If a tool says a step is not available on this server yet, report that and stop there."
    );
    GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
        .with_description(format!("Closed-loop monitoring playbook for `{model}`"))
}
