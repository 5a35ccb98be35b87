//! Model cards (Mitchell et al., "Model Cards for Model Reporting"), built from the store.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mlops_engine::model::{Alias, AliasChange, CHAMPION, FeatureSpec, ModelPolicy, ModelVersion};
use mlops_engine::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// Everything the card shows, as served in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub task: String,
    pub intended_use: String,
    pub label: Option<String>,
    pub features: Vec<FeatureSpec>,
    /// The champion's training data snapshot.
    pub training_data: Option<String>,
    /// Evaluation metrics of every version, oldest first.
    pub versions: Vec<ModelVersion>,
    pub aliases: Vec<Alias>,
    pub champion: Option<String>,
    /// Drift, retraining and validation thresholds from the model's policy.
    pub decision_thresholds: ModelPolicy,
    /// The dataset drift is measured against.
    pub drift_reference: Option<String>,
    pub limitations: Vec<String>,
    /// Every move of an alias: who promoted what, when and why.
    pub approval_history: Vec<AliasChange>,
    /// The newest drift check: report id, verdict and recommended action.
    pub last_drift: Option<LastDrift>,
    /// The newest quality check: report id, when, and the recommended action.
    #[serde(default)]
    pub last_quality: Option<LastQuality>,
    /// Ingested monitoring rows held now (bounded by `policy.retain` and `max_ingested_rows`).
    #[serde(default)]
    pub ingested_rows: u64,
    /// Bytes of the columnar blocks holding them.
    pub ingested_bytes: u64,
}

/// The verdict of the newest quality check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastQuality {
    pub report_id: String,
    pub checked_at: String,
    pub recommended_action: String,
}

/// The verdict of the newest drift check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDrift {
    pub report_id: String,
    pub checked_at: String,
    pub dataset_drift: bool,
    pub drifted_share: f64,
    pub recommended_action: String,
}

/// The card of `name`, or `None` if the model is unknown.
pub async fn model_card(store: &dyn Store, name: &str) -> Result<Option<ModelCard>, StoreError> {
    let Some(record) = store.get_model(name).await? else {
        return Ok(None);
    };
    let history = store.alias_history(name).await?;
    let last_drift = store.last_drift_report(name).await?.map(|r| LastDrift {
        report_id: r.id,
        checked_at: r.checked_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        dataset_drift: r.dataset_drift,
        drifted_share: r.drifted_share,
        recommended_action: r.recommended_action.as_str().to_owned(),
    });
    let last_quality = store
        .model_overviews()
        .await?
        .iter()
        .find(|o| o.record.spec.name == name)
        .and_then(|o| o.last_quality.as_ref())
        .map(|q| LastQuality {
            report_id: q.id.clone(),
            checked_at: q.checked_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            recommended_action: q.recommended_action.as_str().to_owned(),
        });
    let (ingested_rows, ingested_bytes) = store
        .held_records()
        .await?
        .into_iter()
        .find_map(|h| (h.model == name).then_some((h.rows, h.bytes)))
        .unwrap_or((0, 0));
    let champion = record.aliased(CHAMPION).cloned();
    let spec = record.spec;
    Ok(Some(ModelCard {
        name: spec.name,
        description: spec.description,
        owner: spec.owner,
        task: spec.task,
        intended_use: spec.intended_use,
        label: spec.label,
        features: spec.features,
        training_data: champion.as_ref().and_then(|c| c.data_snapshot.clone()),
        versions: record.versions,
        aliases: record.aliases,
        champion: champion.map(|c| c.version),
        decision_thresholds: spec.policy,
        drift_reference: spec.reference_data.map(|p| p.display().to_string()),
        limitations: spec.limitations,
        approval_history: history,
        last_drift,
        last_quality,
        ingested_rows,
        ingested_bytes,
    }))
}

/// `n` bytes as KiB, MiB or GiB with one decimal.
fn human_bytes(n: u64) -> String {
    let mut value = n as f64;
    for unit in ["bytes", "KiB", "MiB"] {
        if value < 1024.0 {
            return if unit == "bytes" {
                format!("{n} bytes")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    format!("{value:.1} GiB")
}

fn or_none(s: &str) -> &str {
    if s.trim().is_empty() {
        "_not stated_"
    } else {
        s
    }
}

impl ModelCard {
    /// The card as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_markdown(&mut md);
        md
    }

    fn write_markdown(&self, md: &mut String) -> std::fmt::Result {
        writeln!(md, "# Model card: {}\n", self.name)?;
        writeln!(md, "## Details\n")?;
        writeln!(md, "- **Description:** {}", or_none(&self.description))?;
        writeln!(md, "- **Owner:** {}", or_none(&self.owner))?;
        writeln!(md, "- **Task:** {}", self.task)?;
        writeln!(
            md,
            "- **Champion:** {}",
            self.champion.as_deref().unwrap_or("none")
        )?;
        if let Some(label) = &self.label {
            writeln!(md, "- **Label:** `{label}`")?;
        }
        writeln!(md, "\n## Intended use\n\n{}\n", or_none(&self.intended_use))?;
        writeln!(md, "## Features\n\n| feature | kind |\n|---|---|")?;
        for f in &self.features {
            writeln!(md, "| `{}` | {:?} |", f.name, f.kind)?;
        }
        writeln!(
            md,
            "\n## Training data\n\n{}\n",
            self.training_data.as_deref().unwrap_or("_not recorded_")
        )?;
        writeln!(md, "## Evaluation metrics per version\n")?;
        let names: std::collections::BTreeSet<&String> = self
            .versions
            .iter()
            .flat_map(|v| v.metrics.keys())
            .collect();
        if self.versions.is_empty() {
            writeln!(md, "_No versions registered._")?;
        } else {
            write!(md, "| version | registered | by |")?;
            for n in &names {
                write!(md, " {n} |")?;
            }
            write!(md, " artifact |\n|---|---|---|")?;
            for _ in &names {
                write!(md, "---|")?;
            }
            writeln!(md, "---|")?;
            for v in &self.versions {
                write!(
                    md,
                    "| {} | {} | {} |",
                    v.version,
                    v.created_at.format("%Y-%m-%d %H:%M UTC"),
                    v.created_by
                )?;
                for n in &names {
                    match v.metrics.get(*n) {
                        Some(x) => write!(md, " {x:.4} |")?,
                        None => write!(md, " — |")?,
                    }
                }
                writeln!(md, " `{}` |", v.artifact_digest)?;
            }
        }
        let p = &self.decision_thresholds;
        writeln!(md, "\n## Decision thresholds\n")?;
        writeln!(
            md,
            "- **Dataset drift** when the share of drifted features is ≥ {}",
            p.drift_share
        )?;
        match p.stattest_threshold {
            Some(t) => writeln!(md, "- **Per-feature test threshold:** {t}")?,
            None => writeln!(md, "- **Per-feature test threshold:** each test's default")?,
        }
        if p.validation.is_empty() {
            writeln!(md, "- **Validation rules:** none configured")?;
        }
        for r in &p.validation {
            let mut parts = Vec::new();
            if let Some(t) = r.threshold {
                parts.push(format!(
                    "{} {t}",
                    if r.greater_is_better { "≥" } else { "≤" }
                ));
            }
            if let Some(c) = r.min_absolute_change {
                parts.push(format!("improves on the champion by ≥ {c}"));
            }
            if let Some(c) = r.min_relative_change {
                parts.push(format!("improves on the champion by ≥ {:.1}%", c * 100.0));
            }
            writeln!(
                md,
                "- **Validation:** `{}` ({}) {}",
                r.metric,
                if r.greater_is_better {
                    "higher is better"
                } else {
                    "lower is better"
                },
                parts.join(", ")
            )?;
        }
        writeln!(
            md,
            "\n## Drift reference\n\n{}\n",
            self.drift_reference
                .as_deref()
                .unwrap_or("_none configured_")
        )?;
        match &self.last_drift {
            Some(d) => writeln!(
                md,
                "## Last drift check\n\n{}: {} (drifted share {:.2}), recommended action **{}** — `mlops://drift-reports/{}`\n",
                d.checked_at,
                if d.dataset_drift {
                    "dataset drift"
                } else {
                    "no dataset drift"
                },
                d.drifted_share,
                d.recommended_action,
                d.report_id
            )?,
            None => writeln!(md, "## Last drift check\n\n_Never checked._\n")?,
        }
        match &self.last_quality {
            Some(q) => writeln!(
                md,
                "## Last quality check\n\n{}: recommended action **{}** — `mlops://quality-reports/{}`\n",
                q.checked_at, q.recommended_action, q.report_id
            )?,
            None => writeln!(md, "## Last quality check\n\n_Never checked._\n")?,
        }
        let policy = &self.decision_thresholds;
        let bounds = match (&policy.retain, policy.max_ingested_rows) {
            (Some(r), Some(m)) => format!("kept {r}, at most {m} rows"),
            (Some(r), None) => format!("kept {r}"),
            (None, Some(m)) => format!("at most {m} rows"),
            (None, None) => "kept until the server's row limit refuses more".to_owned(),
        };
        writeln!(
            md,
            "## Monitoring data\n\n{} ingested rows held in {} ({bounds}).\n",
            self.ingested_rows,
            human_bytes(self.ingested_bytes)
        )?;
        writeln!(md, "## Limitations\n")?;
        if self.limitations.is_empty() {
            writeln!(md, "_None stated._")?;
        }
        for l in &self.limitations {
            writeln!(md, "- {l}")?;
        }
        writeln!(md, "\n## Aliases\n")?;
        if self.aliases.is_empty() {
            writeln!(md, "_None._")?;
        }
        for a in &self.aliases {
            writeln!(
                md,
                "- `{}` → {} (set by {} at {})",
                a.alias,
                a.version,
                a.set_by,
                a.set_at.format("%Y-%m-%d %H:%M UTC")
            )?;
        }
        writeln!(md, "\n## Approval history\n")?;
        if self.approval_history.is_empty() {
            writeln!(md, "_No alias has moved yet._")?;
        }
        for h in &self.approval_history {
            writeln!(
                md,
                "- {}: `{}` {} → {} by {} — {}",
                h.set_at.format("%Y-%m-%d %H:%M UTC"),
                h.alias,
                h.previous_version.as_deref().unwrap_or("(unset)"),
                h.version,
                h.set_by,
                h.reason
            )?;
        }
        Ok(())
    }

    /// Metrics of the champion, if any.
    pub fn champion_metrics(&self) -> Option<&BTreeMap<String, f64>> {
        let c = self.champion.as_ref()?;
        self.versions
            .iter()
            .find(|v| &v.version == c)
            .map(|v| &v.metrics)
    }
}
