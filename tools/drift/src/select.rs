//! Evidently's default test per column, the drift rule of each test, and the dataset verdict.

use std::fmt;

use super::column::Distinct;
use mlops_domain::FeatureKind;

/// A per-column drift test.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StatTest {
    Ks,
    Wasserstein,
    Psi,
    KlDiv,
    Jensenshannon,
    Hellinger,
    Chisquare,
    Z,
    /// Two-sample chi-square (homogeneity), beyond Evidently.
    Chi2Contingency,
    /// Largest share difference of a category, beyond Evidently.
    LInfinity,
}

impl StatTest {
    pub const ALL: [StatTest; 10] = [
        StatTest::Ks,
        StatTest::Wasserstein,
        StatTest::Psi,
        StatTest::KlDiv,
        StatTest::Jensenshannon,
        StatTest::Hellinger,
        StatTest::Chisquare,
        StatTest::Z,
        StatTest::Chi2Contingency,
        StatTest::LInfinity,
    ];

    /// Evidently's name of the test.
    pub fn name(self) -> &'static str {
        match self {
            StatTest::Ks => "ks",
            StatTest::Wasserstein => "wasserstein",
            StatTest::Psi => "psi",
            StatTest::KlDiv => "kl_div",
            StatTest::Jensenshannon => "jensenshannon",
            StatTest::Hellinger => "hellinger",
            StatTest::Chisquare => "chisquare",
            StatTest::Z => "z",
            StatTest::Chi2Contingency => "chi2_contingency",
            StatTest::LInfinity => "l_infinity",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the score is a p-value (small = drift) rather than a distance (large = drift).
    pub fn is_p_value(self) -> bool {
        matches!(
            self,
            StatTest::Ks | StatTest::Chisquare | StatTest::Z | StatTest::Chi2Contingency
        )
    }

    /// Evidently's default threshold.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }

    /// Evidently's drift rule: `p <= t` for KS, `p < t` for the other p-value tests, `>= t`
    /// for distances.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            StatTest::Ks => score <= threshold,
            StatTest::Chisquare | StatTest::Z | StatTest::Chi2Contingency => score < threshold,
            _ => score >= threshold,
        }
    }

    /// Whether the test applies to a column of this kind.
    pub fn applies_to(self, kind: FeatureKind) -> bool {
        !(kind == FeatureKind::Categorical && matches!(self, StatTest::Ks | StatTest::Wasserstein))
    }
}

impl fmt::Display for StatTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The test Evidently would pick, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub test: StatTest,
    pub reason: String,
}

/// Above this many distinct values a numeric column gets a test for continuous data.
pub const ENOUGH_DISTINCT: usize = 5;

/// Evidently's `_get_default_stattest`: only the reference size and the number of distinct
/// values (over both samples, after NaN removal) decide.
pub fn default_test(kind: FeatureKind, n_ref: usize, unique: Distinct) -> Choice {
    let n_unique = unique.lower();
    let small = n_ref <= 1000;
    let size = if small {
        format!("{n_ref} reference rows (≤ 1000)")
    } else {
        format!("{n_ref} reference rows (> 1000)")
    };
    let (test, values) = match (kind, n_unique) {
        (FeatureKind::Numeric, u) if u > ENOUGH_DISTINCT => (
            if small {
                StatTest::Ks
            } else {
                StatTest::Wasserstein
            },
            format!("numeric with {unique} distinct values (> {ENOUGH_DISTINCT})"),
        ),
        (FeatureKind::Numeric, u) if u >= 3 => (
            if small {
                StatTest::Chisquare
            } else {
                StatTest::Jensenshannon
            },
            format!("numeric with {u} distinct values (3-5)"),
        ),
        (FeatureKind::Numeric, u) => (
            if small {
                StatTest::Z
            } else {
                StatTest::Jensenshannon
            },
            format!("numeric with {u} distinct values (≤ 2)"),
        ),
        (FeatureKind::Categorical | FeatureKind::Text, u) if u > 2 => (
            if small {
                StatTest::Chisquare
            } else {
                StatTest::Jensenshannon
            },
            format!("categorical with {u} values (> 2)"),
        ),
        (FeatureKind::Categorical | FeatureKind::Text, u) => (
            if small {
                StatTest::Z
            } else {
                StatTest::Jensenshannon
            },
            format!("categorical with {u} values (≤ 2)"),
        ),
    };
    Choice {
        test,
        reason: format!("{test}: {values}, {size}"),
    }
}

/// Evidently's dataset rule: drift when the share of drifted columns is at least `drift_share`.
pub fn dataset_drift(drifted: usize, tested: usize, drift_share: f64) -> (f64, bool) {
    if tested == 0 {
        return (0.0, false);
    }
    let share = drifted as f64 / tested as f64;
    (share, share >= drift_share)
}

/// Benjamini-Hochberg adjusted p-values (q-values), in the input order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let n = p.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0.0; n];
    let mut running = 1.0_f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * n as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_selection_matches_evidently() {
        use FeatureKind::{Categorical, Numeric};
        let cases = [
            (Numeric, 800, 800, StatTest::Ks),
            (Numeric, 5000, 8000, StatTest::Wasserstein),
            (Numeric, 1000, 4, StatTest::Chisquare),
            (Numeric, 1001, 4, StatTest::Jensenshannon),
            (Numeric, 500, 2, StatTest::Z),
            (Categorical, 800, 5, StatTest::Chisquare),
            (Categorical, 800, 2, StatTest::Z),
            (Categorical, 5000, 2, StatTest::Jensenshannon),
        ];
        for (kind, n_ref, unique, expected) in cases {
            let choice = default_test(kind, n_ref, Distinct::Exactly(unique));
            assert_eq!(choice.test, expected, "{kind:?} {n_ref} {unique}");
            assert!(choice.reason.contains(&n_ref.to_string()));
        }
    }

    #[test]
    fn drift_rules_and_dataset_share() {
        assert!(StatTest::Ks.drifted(0.05, 0.05));
        assert!(!StatTest::Chisquare.drifted(0.05, 0.05));
        assert!(StatTest::Wasserstein.drifted(0.1, 0.1));
        assert!(!StatTest::Psi.drifted(0.099, 0.1));
        assert_eq!(dataset_drift(4, 7, 0.5), (4.0 / 7.0, true));
        assert_eq!(dataset_drift(3, 7, 0.5), (3.0 / 7.0, false));
        assert_eq!(dataset_drift(0, 0, 0.5), (0.0, false));
        assert_eq!(StatTest::parse("kl_div"), Some(StatTest::KlDiv));
    }

    #[test]
    fn benjamini_hochberg_known_values() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.2), "BH") = 0.04 0.0533 0.0533 0.2
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
        let expected = [0.04, 0.04 * 4.0 / 3.0, 0.04 * 4.0 / 3.0, 0.2];
        assert!(
            q.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-12),
            "{q:?}"
        );
    }
}
