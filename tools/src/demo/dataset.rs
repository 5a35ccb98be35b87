//! Synthetic card transactions. The `Reference` era is the training period; the `Drifted` era
//! has larger amounts, more mobile and night traffic, a new merchant category, and a changed
//! fraud pattern, so a model trained on the reference scores worse on it.

use std::io::Write;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Poisson};

use crate::model::{FeatureKind, FeatureSpec};

/// Which period a sample comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Reference,
    Drifted,
}

/// Feature columns of the demo model, in file order (the label `is_fraud` comes last).
pub const FEATURES: &[(&str, FeatureKind)] = &[
    ("amount", FeatureKind::Numeric),
    ("hour", FeatureKind::Numeric),
    ("distance_km", FeatureKind::Numeric),
    ("account_age_days", FeatureKind::Numeric),
    ("tx_count_24h", FeatureKind::Numeric),
    ("merchant_category", FeatureKind::Categorical),
    ("channel", FeatureKind::Categorical),
];

/// Merchant categories; `crypto` appears only in the drifted era.
pub const CATEGORIES: &[&str] = &[
    "grocery",
    "fuel",
    "fashion",
    "electronics",
    "travel",
    "gaming",
    "crypto",
];
/// Payment channels.
pub const CHANNELS: &[&str] = &["pos", "web", "mobile"];

/// One transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub amount: f64,
    pub hour: f64,
    pub distance_km: f64,
    pub account_age_days: f64,
    pub tx_count_24h: f64,
    pub merchant_category: &'static str,
    pub channel: &'static str,
    pub is_fraud: bool,
}

impl Row {
    /// Numeric feature by name.
    pub fn numeric(&self, name: &str) -> Option<f64> {
        match name {
            "amount" => Some(self.amount),
            "hour" => Some(self.hour),
            "distance_km" => Some(self.distance_km),
            "account_age_days" => Some(self.account_age_days),
            "tx_count_24h" => Some(self.tx_count_24h),
            _ => None,
        }
    }

    /// Categorical feature by name.
    pub fn categorical(&self, name: &str) -> Option<&str> {
        match name {
            "merchant_category" => Some(self.merchant_category),
            "channel" => Some(self.channel),
            _ => None,
        }
    }
}

/// The demo's feature schema, as it goes into configuration.
pub fn feature_specs() -> Vec<FeatureSpec> {
    FEATURES
        .iter()
        .map(|(name, kind)| FeatureSpec {
            name: (*name).into(),
            kind: *kind,
        })
        .collect()
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str], weights: &[f64]) -> &'a str {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items.iter().zip(weights) {
        if x < *w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1]
}

/// `n` rows of `era`, the same for the same `seed`.
pub fn generate(era: Era, n: usize, seed: u64) -> Vec<Row> {
    let drifted = era == Era::Drifted;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Parameters are constants that are valid for these distributions.
    let (amount, distance, age, txs) = match (
        LogNormal::new(if drifted { 4.1_f64 } else { 3.5 }, 1.0),
        LogNormal::new(if drifted { 2.3_f64 } else { 1.5 }, 1.1),
        Gamma::new(2.0_f64, if drifted { 120.0 } else { 300.0 }),
        Poisson::new(if drifted { 3.2_f64 } else { 2.0 }),
    ) {
        (Ok(a), Ok(d), Ok(g), Ok(p)) => (a, d, g, p),
        _ => return Vec::new(),
    };
    let Ok(night_gap) = Exp::new(0.6_f64) else {
        return Vec::new();
    };
    let categories: &[f64] = if drifted {
        &[0.18, 0.10, 0.12, 0.22, 0.10, 0.16, 0.12]
    } else {
        &[0.32, 0.18, 0.17, 0.15, 0.10, 0.08, 0.0]
    };
    let channels: &[f64] = if drifted {
        &[0.25, 0.25, 0.50]
    } else {
        &[0.50, 0.30, 0.20]
    };
    (0..n)
        .map(|_| {
            let night_share = if drifted { 0.30 } else { 0.12 };
            let hour = if rng.random::<f64>() < night_share {
                night_gap.sample(&mut rng) % 6.0
            } else {
                6.0 + rng.random::<f64>() * 18.0
            };
            let mut row = Row {
                amount: (amount.sample(&mut rng) * 100.0_f64).round() / 100.0,
                hour: (hour * 100.0).round() / 100.0,
                distance_km: (distance.sample(&mut rng) * 10.0_f64).round() / 10.0,
                account_age_days: f64::round(age.sample(&mut rng)),
                tx_count_24h: txs.sample(&mut rng),
                merchant_category: pick(&mut rng, CATEGORIES, categories),
                channel: pick(&mut rng, CHANNELS, channels),
                is_fraud: false,
            };
            let p = fraud_probability(&row, era);
            row.is_fraud = rng.random::<f64>() < p;
            row
        })
        .collect()
}

/// The true fraud probability in each era. The reference era's rule is what the demo's `v1`
/// learned; the drifted era adds risk that `v1` does not know about.
pub fn fraud_probability(row: &Row, era: Era) -> f64 {
    let mut logit = reference_logit(row);
    if era == Era::Drifted {
        logit += match row.merchant_category {
            "crypto" => 2.2,
            _ => 0.0,
        };
        logit += if row.channel == "mobile" { 1.0 } else { 0.0 };
    }
    1.0 / (1.0 + (-logit).exp())
}

fn reference_logit(row: &Row) -> f64 {
    let category = match row.merchant_category {
        "electronics" => 0.8,
        "travel" => 0.5,
        "gaming" => 1.0,
        _ => 0.0,
    };
    let channel = match row.channel {
        "web" => 0.4,
        "mobile" => 0.2,
        _ => 0.0,
    };
    -5.0 + 1.1 * (row.amount.ln_1p() - 3.5)
        + if row.hour < 6.0 { 1.2 } else { 0.0 }
        + 0.7 * (row.distance_km.ln_1p() - 1.5)
        + if row.account_age_days < 30.0 {
            1.0
        } else {
            0.0
        }
        + 0.25 * row.tx_count_24h
        + category
        + channel
}

/// Writes rows as CSV with a header (features, then `is_fraud` as 0/1, then a model's
/// `prediction` of each row when `scores` are given).
pub fn write_csv(rows: &[Row], scores: Option<&[f64]>, out: impl Write) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = FEATURES.iter().map(|(n, _)| *n).collect();
    header.push("is_fraud");
    if scores.is_some() {
        header.push("prediction");
    }
    w.write_record(&header)?;
    for (i, r) in rows.iter().enumerate() {
        let mut record = vec![
            r.amount.to_string(),
            r.hour.to_string(),
            r.distance_km.to_string(),
            r.account_age_days.to_string(),
            r.tx_count_24h.to_string(),
            r.merchant_category.to_string(),
            r.channel.to_string(),
            u8::from(r.is_fraud).to_string(),
        ];
        if let Some(score) = scores.and_then(|s| s.get(i)) {
            record.push(score.to_string());
        }
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

/// A demo CSV that cannot be read back, with the file, row and column.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ReadError {
    pub path: String,
    pub message: String,
}

/// Reads a file written by [`write_csv`] back into rows.
pub fn read_csv(path: &std::path::Path) -> Result<Vec<Row>, ReadError> {
    let fail = |message: String| ReadError {
        path: path.display().to_string(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| fail(e.to_string()))?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let r = record.map_err(|e| fail(format!("row {line}: {e}")))?;
        let num = |c: usize| -> Result<f64, ReadError> {
            r.get(c)
                .unwrap_or_default()
                .parse()
                .map_err(|e| fail(format!("row {line}, column {}: {e}", c + 1)))
        };
        let level =
            |c: usize, options: &'static [&'static str]| -> Result<&'static str, ReadError> {
                let v = r.get(c).unwrap_or_default();
                options.iter().copied().find(|o| *o == v).ok_or_else(|| {
                    fail(format!("row {line}, column {}: unknown level {v:?}", c + 1))
                })
            };
        rows.push(Row {
            amount: num(0)?,
            hour: num(1)?,
            distance_km: num(2)?,
            account_age_days: num(3)?,
            tx_count_24h: num(4)?,
            merchant_category: level(5, CATEGORIES)?,
            channel: level(6, CHANNELS)?,
            is_fraud: num(7)? >= 0.5,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_eras_differ() {
        let a = generate(Era::Reference, 500, 7);
        assert_eq!(a, generate(Era::Reference, 500, 7));
        assert_ne!(a, generate(Era::Reference, 500, 8));
        let d = generate(Era::Drifted, 2000, 7);
        let mean = |rows: &[Row]| rows.iter().map(|r| r.amount).sum::<f64>() / rows.len() as f64;
        assert!(mean(&d) > mean(&a) * 1.3, "drifted amounts are larger");
        assert!(a.iter().all(|r| r.merchant_category != "crypto"));
        assert!(d.iter().any(|r| r.merchant_category == "crypto"));
        let fraud = a.iter().filter(|r| r.is_fraud).count();
        assert!(
            fraud > 10 && fraud < 250,
            "fraud is rare but present: {fraud}"
        );
        assert!(a.iter().all(|r| (0.0..24.0).contains(&r.hour)));
    }

    #[test]
    fn csv_round_trips() {
        let rows = generate(Era::Drifted, 50, 1);
        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("x.csv"))
            .unwrap_or_default();
        let file = std::fs::File::create(&path).ok();
        assert!(file.is_some_and(|f| write_csv(&rows, None, f).is_ok()));
        let back = read_csv(&path).ok();
        assert_eq!(back.as_deref(), Some(rows.as_slice()));
        // A scored file adds a last column that reading ignores.
        let scores: Vec<f64> = (0..50).map(|i| f64::from(i) / 50.0).collect();
        let file = std::fs::File::create(&path).ok();
        assert!(file.is_some_and(|f| write_csv(&rows, Some(&scores), f).is_ok()));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            text.lines()
                .next()
                .is_some_and(|h| h.ends_with(",is_fraud,prediction"))
        );
        assert_eq!(read_csv(&path).ok().as_deref(), Some(rows.as_slice()));
    }
}
