//! Runs one test on one column pair, choosing the representation each test needs (sorted
//! values, Evidently's bins, or counts of distinct values).

use super::select::StatTest;
use super::source::sorted_counts;
use super::{
    Counts, NumKey, binning, chi2_contingency, chisquare, hellinger, jensenshannon, kl_div, ks,
    l_infinity, psi, wasserstein, z,
};

/// A cleaned column: numeric values without NaN/inf, or the count of each category.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Sorted ascending.
    Numeric(Vec<f64>),
    Categorical(Counts<String>),
}

impl Column {
    /// A numeric column from raw values: NaN and infinities removed (as Evidently does), sorted.
    pub fn numeric(values: impl IntoIterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        // Radix sort: several times faster than a comparison sort on a million values.
        radsort::sort(&mut v);
        Column::Numeric(v)
    }

    /// A categorical column from its values.
    pub fn categorical<S: AsRef<str>>(values: &[S]) -> Self {
        let mut out = Counts::new();
        for v in values {
            *out.entry(v.as_ref().to_owned()).or_insert(0) += 1;
        }
        Column::Categorical(out)
    }

    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(m) => m.values().sum::<u64>() as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a test could not run on a column pair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untestable {
    #[error("no values left after removing missing and infinite values in the {0} data")]
    Empty(&'static str),
    #[error("{0} needs numeric data")]
    NeedsNumeric(StatTest),
    #[error("the two samples have different column types")]
    MixedTypes,
}

fn discrete_counts(c: &Column) -> Either<'_> {
    match c {
        Column::Numeric(v) => Either::Num(sorted_counts(v)),
        Column::Categorical(m) => Either::Cat(m),
    }
}

enum Either<'a> {
    Num(Counts<NumKey>),
    Cat(&'a Counts<String>),
}

/// Distinct values over both samples (what Evidently's test selection looks at).
pub fn distinct_values(reference: &Column, current: &Column) -> usize {
    match (reference, current) {
        (Column::Numeric(a), Column::Numeric(b)) => {
            // Both sorted: count the distinct values of the merge.
            let (mut i, mut j, mut distinct) = (0, 0, 0);
            let mut last: Option<f64> = None;
            while i < a.len() || j < b.len() {
                let x = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
                    i += 1;
                    a[i - 1]
                } else {
                    j += 1;
                    b[j - 1]
                };
                if last != Some(x) {
                    distinct += 1;
                    last = Some(x);
                }
            }
            distinct
        }
        (Column::Categorical(a), Column::Categorical(b)) => {
            a.len() + b.keys().filter(|k| !a.contains_key(*k)).count()
        }
        _ => 0,
    }
}

/// The score of `test` (a p-value or a distance).
pub fn score(test: StatTest, reference: &Column, current: &Column) -> Result<f64, Untestable> {
    if reference.is_empty() {
        return Err(Untestable::Empty("reference"));
    }
    if current.is_empty() {
        return Err(Untestable::Empty("current"));
    }
    match (test, reference, current) {
        (StatTest::Ks, Column::Numeric(r), Column::Numeric(c)) => Ok(ks::two_sample(r, c).p_value),
        (StatTest::Wasserstein, Column::Numeric(r), Column::Numeric(c)) => {
            Ok(wasserstein::normed(r, c))
        }
        (StatTest::Ks | StatTest::Wasserstein, _, _) => Err(Untestable::NeedsNumeric(test)),
        (StatTest::Hellinger, Column::Numeric(r), Column::Numeric(c)) => {
            Ok(hellinger::numeric(r, c))
        }
        (
            StatTest::Psi | StatTest::KlDiv | StatTest::Jensenshannon | StatTest::LInfinity,
            Column::Numeric(r),
            Column::Numeric(c),
        ) => {
            let (p, q) = binning::numeric(r, c);
            Ok(match test {
                StatTest::Psi => psi::psi(&p, &q),
                StatTest::KlDiv => kl_div::kl_div(&p, &q),
                StatTest::LInfinity => l_infinity::l_infinity(&p, &q),
                _ => jensenshannon::jensenshannon(&p, &q),
            })
        }
        _ => match (discrete_counts(reference), discrete_counts(current)) {
            (Either::Num(r), Either::Num(c)) => Ok(on_counts(test, &r, &c)),
            (Either::Cat(r), Either::Cat(c)) => Ok(on_counts(test, r, c)),
            _ => Err(Untestable::MixedTypes),
        },
    }
}

fn on_counts<K: Ord + Clone>(test: StatTest, r: &Counts<K>, c: &Counts<K>) -> f64 {
    let proportions = || binning::proportions(r, c);
    match test {
        StatTest::Chisquare => chisquare::chisquare(r, c),
        StatTest::Chi2Contingency => chi2_contingency::chi2_contingency(r, c),
        StatTest::LInfinity => {
            let (p, q) = proportions();
            l_infinity::l_infinity(&p, &q)
        }
        StatTest::Z => z::z_test(r, c),
        StatTest::Hellinger => hellinger::categorical(r, c),
        StatTest::Psi => {
            let (p, q) = proportions();
            psi::psi(&p, &q)
        }
        StatTest::KlDiv => {
            let (p, q) = proportions();
            kl_div::kl_div(&p, &q)
        }
        _ => {
            let (p, q) = proportions();
            jensenshannon::jensenshannon(&p, &q)
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn numeric() -> impl Strategy<Value = Vec<f64>> {
        prop_oneof![
            prop::collection::vec(-1e6..1e6_f64, 1..300),
            // Few distinct values: the discrete branches.
            prop::collection::vec((0..4_i32).prop_map(f64::from), 1..300),
        ]
    }

    fn categorical() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(str::to_owned),
            1..300,
        )
    }

    fn check_bounds(test: StatTest, s: f64) -> Result<(), TestCaseError> {
        prop_assert!(!s.is_nan(), "{test}: NaN");
        if test.is_p_value() {
            prop_assert!((0.0..=1.0).contains(&s), "{test}: p = {s}");
        } else {
            prop_assert!(s >= -1e-12, "{test}: distance {s}");
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn numeric_scores_are_bounded_and_identical_samples_do_not_drift(a in numeric(), b in numeric()) {
            let (ra, rb) = (Column::numeric(a), Column::numeric(b));
            for test in StatTest::ALL {
                check_bounds(test, score(test, &ra, &rb).map_err(|e| TestCaseError::fail(e.to_string()))?)?;
                let same = score(test, &ra, &ra).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(!test.drifted(same, test.default_threshold()), "{test} flags identical samples: {same}");
            }
        }

        #[test]
        fn symmetric_statistics_are_symmetric(a in numeric(), b in numeric(), c in categorical(), d in categorical()) {
            let (ra, rb) = (Column::numeric(a), Column::numeric(b));
            let (ca, cb) = (Column::categorical(&c), Column::categorical(&d));
            let (Column::Numeric(x), Column::Numeric(y)) = (&ra, &rb) else { unreachable!() };
            prop_assert_eq!(ks::statistic(x, y), ks::statistic(y, x));
            prop_assert!((wasserstein::distance(x, y) - wasserstein::distance(y, x)).abs() <= 1e-9 * (1.0 + wasserstein::distance(x, y)));
            for test in [StatTest::Jensenshannon, StatTest::Hellinger, StatTest::Psi, StatTest::LInfinity, StatTest::Chi2Contingency] {
                let (s1, s2) = (score(test, &ca, &cb), score(test, &cb, &ca));
                let (s1, s2) = (s1.map_err(|e| TestCaseError::fail(e.to_string()))?, s2.map_err(|e| TestCaseError::fail(e.to_string()))?);
                prop_assert!((s1 - s2).abs() < 1e-9, "{test}: {s1} vs {s2}");
                check_bounds(test, s1)?;
            }
            for test in [StatTest::Chisquare, StatTest::Z, StatTest::KlDiv] {
                check_bounds(test, score(test, &ca, &cb).map_err(|e| TestCaseError::fail(e.to_string()))?)?;
            }
        }
    }

    #[test]
    fn untestable_columns_say_why() {
        let empty = Column::numeric([f64::NAN, f64::INFINITY]);
        let some = Column::numeric([1.0, 2.0]);
        assert_eq!(
            score(StatTest::Ks, &empty, &some),
            Err(Untestable::Empty("reference"))
        );
        let cat = Column::categorical(&["a"]);
        assert_eq!(
            score(StatTest::Wasserstein, &cat, &cat),
            Err(Untestable::NeedsNumeric(StatTest::Wasserstein))
        );
        assert_eq!(
            score(StatTest::Psi, &some, &cat),
            Err(Untestable::MixedTypes)
        );
    }
}
