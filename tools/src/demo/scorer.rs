//! A linear (logistic) scorer stored as a JSON artifact: the demo's champion `v1`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::dataset::Row;

/// How a numeric feature enters the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Transform {
    /// `weight * (x - center)`
    Linear { center: f64 },
    /// `weight * (ln(1 + x) - center)`
    Log1p { center: f64 },
    /// `weight` when `x < bound`
    Below { bound: f64 },
}

/// One numeric term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericTerm {
    pub feature: String,
    pub transform: Transform,
    pub weight: f64,
}

/// `sigmoid(intercept + numeric terms + category weights)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearScorer {
    pub intercept: f64,
    pub numeric: Vec<NumericTerm>,
    /// Feature → level → weight; an unseen level weighs 0.
    pub categorical: BTreeMap<String, BTreeMap<String, f64>>,
    /// Score at or above which a row is classified positive.
    pub threshold: f64,
}

impl LinearScorer {
    /// The rule of the reference era, which the demo's `v1` represents.
    pub fn demo_v1() -> Self {
        let term = |feature: &str, transform, weight| NumericTerm {
            feature: feature.into(),
            transform,
            weight,
        };
        let levels = |pairs: &[(&str, f64)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>()
        };
        Self {
            intercept: -5.0,
            numeric: vec![
                term("amount", Transform::Log1p { center: 3.5 }, 1.1),
                term("hour", Transform::Below { bound: 6.0 }, 1.2),
                term("distance_km", Transform::Log1p { center: 1.5 }, 0.7),
                term("account_age_days", Transform::Below { bound: 30.0 }, 1.0),
                term("tx_count_24h", Transform::Linear { center: 0.0 }, 0.25),
            ],
            categorical: [
                (
                    "merchant_category".to_owned(),
                    levels(&[("electronics", 0.8), ("travel", 0.5), ("gaming", 1.0)]),
                ),
                (
                    "channel".to_owned(),
                    levels(&[("web", 0.4), ("mobile", 0.2)]),
                ),
            ]
            .into_iter()
            .collect(),
            threshold: 0.2,
        }
    }

    /// Probability of the positive class for `row`.
    pub fn score(&self, row: &Row) -> f64 {
        let mut logit = self.intercept;
        for t in &self.numeric {
            let x = row.numeric(&t.feature).unwrap_or(0.0);
            logit += t.weight
                * match t.transform {
                    Transform::Linear { center } => x - center,
                    Transform::Log1p { center } => x.ln_1p() - center,
                    Transform::Below { bound } => f64::from(u8::from(x < bound)),
                };
        }
        for (feature, levels) in &self.categorical {
            if let Some(level) = row.categorical(feature) {
                logit += levels.get(level).copied().unwrap_or(0.0);
            }
        }
        1.0 / (1.0 + (-logit).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{Era, fraud_probability, generate};

    #[test]
    fn v1_is_the_reference_rule_and_misses_the_drifted_one() {
        let v1 = LinearScorer::demo_v1();
        for row in generate(Era::Reference, 200, 3) {
            assert!((v1.score(&row) - fraud_probability(&row, Era::Reference)).abs() < 1e-12);
        }
        let drifted = generate(Era::Drifted, 500, 3);
        assert!(
            drifted
                .iter()
                .any(|r| (v1.score(r) - fraud_probability(r, Era::Drifted)).abs() > 0.1)
        );
    }
}
