//! The static resources and templates this server lists.

/// Name, URI (or template) and description of a listed resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub mime_type: &'static str,
}

/// Fixed resources.
pub const RESOURCES: &[ResourceInfo] = &[
    ResourceInfo {
        uri: "mlops://models",
        name: "models",
        title: "Models",
        description: "The models you may see, a page at a time (as list_models pages them): owner, \
                      task, champion version, state and a link to each card; the next page's URI \
                      is at the end. Markdown, then the same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://alerts",
        name: "alerts",
        title: "Alerts",
        description: "Drift alerts of the models you may see, unresolved first: the model, level \
                      (investigate or retrain), state, the report that raised it and what \
                      happened since. Subscribe to hear of new and changed alerts instead of \
                      polling. Markdown, then the same as JSON.",
        mime_type: "text/markdown",
    },
];

/// Resource templates.
pub const TEMPLATES: &[ResourceInfo] = &[
    ResourceInfo {
        uri: "mlops://alerts/{id}",
        name: "alert",
        title: "Alert",
        description: "One drift alert: its model, level, state, the report that raised it, the \
                      newest report and the last thing that happened to it. Markdown, then the \
                      same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://models/{model}/card",
        name: "model-card",
        title: "Model card",
        description: "Model card: details, owner, intended use, features, training data snapshot, \
                      metrics per version, decision thresholds, drift reference, limitations, \
                      aliases and approval history. Markdown, then the same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://drift-reports/{id}",
        name: "drift-report",
        title: "Drift report",
        description: "A stored check_drift report: every feature's test, score, threshold, \
                      effect size and severity, the dataset verdict and the recommended action. \
                      Markdown, then the same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://quality-reports/{id}",
        name: "quality-report",
        title: "Quality report",
        description: "A stored check_performance report: every metric with its interval against \
                      the champion, what degraded, the worst segments and the recommended action. \
                      Markdown, then the same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://jobs/{id}",
        name: "job",
        title: "Retraining job",
        description: "A retraining job: state, backend run, timestamps, the reason and drift \
                      report behind it, and the candidate version it produced. Subscribe to be \
                      notified when its state changes. Markdown, then the same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://validations/{id}",
        name: "validation",
        title: "Validation report",
        description: "A candidate version against the champion: every metric rule with both \
                      values, pass/fail and why, the verdict, and the report's digest. Markdown, \
                      then the same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://promotions/{id}",
        name: "promotion",
        title: "Promotion request",
        description: "A request to make a candidate the champion: the evidence it is bound to, \
                      its state, the decision and who made it. Markdown, then the same as JSON.",
        mime_type: "text/markdown",
    },
    ResourceInfo {
        uri: "mlops://traces/{id}",
        name: "trace",
        title: "Decision trace",
        description: "Every recorded event of one trace (who called what, with which arguments, \
                      the outcome and why), with the hash-chain status. Trace ids are returned \
                      in each tool result's _meta.",
        mime_type: "text/markdown",
    },
];
