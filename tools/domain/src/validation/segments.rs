//! Candidate against champion per category of the holdout, as the trainer measured both: every
//! metric both report in a segment, with the change, regressions flagged. Evidence for the
//! approver, not a rule: a segment never fails a validation.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{MetricChange, changes};
use crate::model::SegmentMetrics;
use crate::untrusted::table_code;

/// Segments named in the reasons, most regressed first.
const NAMED: usize = 5;

/// One category of a categorical feature in the holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SegmentChange {
    pub feature: String,
    pub category: String,
    /// Holdout rows in the segment.
    pub rows: u64,
    pub metrics: Vec<MetricChange>,
}

impl SegmentChange {
    /// The largest worsening among its metrics (0 when none regressed).
    fn worst(&self) -> f64 {
        self.metrics
            .iter()
            .filter(|m| m.regressed)
            .map(|m| m.change.abs())
            .fold(0.0, f64::max)
    }
}

/// Every segment with the metrics both versions report there, most regressed first.
pub fn compare(segments: &[SegmentMetrics]) -> Vec<SegmentChange> {
    let mut out: Vec<SegmentChange> = segments
        .iter()
        .map(|s| SegmentChange {
            feature: s.feature.clone(),
            category: s.category.clone(),
            rows: s.rows,
            metrics: changes(&[], &s.candidate, Some(&s.champion)),
        })
        .filter(|s| !s.metrics.is_empty())
        .collect();
    out.sort_by(|a, b| b.worst().total_cmp(&a.worst()));
    out
}

/// The reason naming the segments where the candidate regressed, if any.
pub fn reason(segments: &[SegmentChange]) -> Option<String> {
    let regressed: Vec<String> = segments
        .iter()
        .filter(|s| s.worst() > 0.0)
        .take(NAMED)
        .map(|s| {
            let worse: Vec<String> = s
                .metrics
                .iter()
                .filter(|m| m.regressed)
                .map(|m| {
                    format!(
                        "{} {:.4} → {:.4}",
                        table_code(&m.metric),
                        m.champion,
                        m.candidate
                    )
                })
                .collect();
            format!(
                "{} = {} ({} rows): {}",
                table_code(&s.feature),
                table_code(&s.category),
                s.rows,
                worse.join(", ")
            )
        })
        .collect();
    (!regressed.is_empty()).then(|| {
        format!(
            "on the holdout the candidate is worse than the champion in these segments: {}; tell the approver",
            regressed.join("; ")
        )
    })
}

/// The report's section on segments (nothing without segments).
pub fn markdown(md: &mut String, segments: &[SegmentChange]) {
    if segments.is_empty() {
        return;
    }
    md.push_str(
        "\nPer segment of the holdout (the trainer's measurements):\n\n| feature | category | rows | metric | candidate | champion | change | |\n|---|---|---|---|---|---|---|---|\n",
    );
    for s in segments {
        for m in &s.metrics {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {:.6} | {:.6} | {:+.6} | {} |",
                table_code(&s.feature),
                table_code(&s.category),
                s.rows,
                table_code(&m.metric),
                m.candidate,
                m.champion,
                m.change,
                if m.regressed { "**regressed**" } else { "" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn segment(feature: &str, category: &str, candidate: f64, champion: f64) -> SegmentMetrics {
        SegmentMetrics {
            feature: feature.into(),
            category: category.into(),
            rows: 50,
            candidate: BTreeMap::from([("accuracy".into(), candidate), ("log_loss".into(), 0.3)]),
            champion: BTreeMap::from([("accuracy".into(), champion), ("log_loss".into(), 0.4)]),
        }
    }

    #[test]
    fn the_most_regressed_segment_comes_first_and_is_named() {
        let all = compare(&[
            segment("channel", "web", 0.80, 0.79),
            segment("merchant_category", "crypto", 0.60, 0.75),
            segment("channel", "pos", 0.70, 0.72),
        ]);
        let order: Vec<&str> = all.iter().map(|s| s.category.as_str()).collect();
        assert_eq!(order, ["crypto", "pos", "web"]);
        let log_loss = all[0]
            .metrics
            .iter()
            .find(|m| m.metric == "log_loss")
            .unwrap();
        assert!(!log_loss.regressed, "a smaller loss is better");
        let named = reason(&all).unwrap();
        assert!(
            named.contains(
                "` merchant_category ` = ` crypto ` (50 rows): ` accuracy ` 0.7500 → 0.6000"
            ),
            "{named}"
        );
        assert!(!named.contains("web"), "{named}");
        assert!(reason(&compare(&[segment("c", "x", 0.9, 0.8)])).is_none());
    }

    #[test]
    fn a_trainer_s_names_are_data_in_the_report() {
        let hostile = "x | <script>alert(1)</script> `\u{1b}[31m";
        let all = compare(&[segment(hostile, "[a](javascript:1)", 0.5, 0.6)]);
        let mut md = String::new();
        markdown(&mut md, &all);
        // Each name is one code span (literal text in Markdown and in the page), escape removed.
        assert!(!md.contains('\u{1b}'), "{md}");
        assert!(
            md.contains("| `` x \\| <script>alert(1)</script> `[31m `` | ` [a](javascript:1) ` |"),
            "{md}"
        );
        // One row per metric, each with the same 9 cells: no cell was split by a `|`.
        for line in md.lines().filter(|l| l.contains("accuracy")) {
            assert_eq!(line.matches(" | ").count(), 7, "{line}");
        }
    }
}
