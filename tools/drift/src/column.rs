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
        // -0 becomes 0 (adding 0 does that): they are one value, as in pandas' value counts,
        // and one key when a column is counted like categories.
        let mut v: Vec<f64> = values
            .into_iter()
            .filter(|x| x.is_finite())
            .map(|x| x + 0.0)
            .collect();
        sort(&mut v);
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

/// Sorts finite values ascending (it does not order -0 and 0). A radix sort: on a million
/// values about half the time of a comparison sort.
pub fn sort(values: &mut [f64]) {
    use voracious_radix_sort::RadixSort;
    values.voracious_sort();
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

/// How many distinct values two samples hold together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distinct {
    Exactly(usize),
    /// One sample alone holds this many (the union was not counted).
    AtLeast(usize),
}

impl Distinct {
    /// The count, or its lower bound.
    pub fn lower(self) -> usize {
        match self {
            Distinct::Exactly(n) | Distinct::AtLeast(n) => n,
        }
    }
}

impl std::fmt::Display for Distinct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distinct::Exactly(n) => write!(f, "{n}"),
            Distinct::AtLeast(n) => write!(f, "at least {n}"),
        }
    }
}

/// Distinct values over both samples (what Evidently's test selection looks at), exact up to
/// `enough`: when one numeric sample alone holds more, its count is a lower bound that decides
/// the selection as well, and the two samples need not be merged.
pub fn distinct_values(reference: &Column, current: &Column, enough: usize) -> Distinct {
    match (reference, current) {
        (Column::Numeric(a), Column::Numeric(b)) => {
            // Equal values are adjacent: one more value at each change (a loop that compiles
            // to vector compares, unlike `chunk_by`).
            let own = |v: &[f64]| {
                usize::from(!v.is_empty())
                    + v.iter()
                        .zip(v.iter().skip(1))
                        .filter(|(x, y)| x != y)
                        .count()
            };
            let most = own(a).max(own(b));
            if most > enough {
                return Distinct::AtLeast(most);
            }
            // Count the distinct values of the merge (without a branch on which side comes
            // next, which would be mispredicted half the time).
            let (mut i, mut j, mut distinct) = (0, 0, 0);
            let mut last = f64::NAN;
            while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
                let from_a = x <= y;
                // `min` compiles to a select; an `if` here became a branch.
                let value = x.min(y);
                distinct += usize::from(value != last);
                last = value;
                i += usize::from(from_a);
                j += usize::from(!from_a);
            }
            for &value in a
                .get(i..)
                .unwrap_or_default()
                .iter()
                .chain(b.get(j..).unwrap_or_default())
            {
                distinct += usize::from(value != last);
                last = value;
            }
            Distinct::Exactly(distinct)
        }
        (Column::Categorical(a), Column::Categorical(b)) => {
            Distinct::Exactly(a.len() + b.keys().filter(|k| !a.contains_key(*k)).count())
        }
        _ => Distinct::Exactly(0),
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

    /// Finite values with ties, both zeros, subnormals and the extremes.
    fn awkward() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![
                any::<f64>().prop_filter("finite", |x| x.is_finite()),
                prop::sample::select(vec![
                    0.0,
                    -0.0,
                    1.0,
                    -1.0,
                    5e-324,
                    -5e-324,
                    f64::MAX,
                    f64::MIN
                ]),
                (-3i32..3).prop_map(f64::from),
            ],
            0..3000,
        )
    }

    proptest! {
        #[test]
        fn sorting_and_merging_agree_with_the_plain_definitions(a in awkward(), b in awkward()) {
            let (Column::Numeric(x), Column::Numeric(y)) = (Column::numeric(a.clone()), Column::numeric(b)) else { panic!("not numeric") };
            let mut expected: Vec<f64> = a.iter().map(|v| if *v == 0.0 { 0.0 } else { *v }).collect();
            expected.sort_by(f64::total_cmp);
            prop_assert_eq!(x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            let mut pooled: Vec<f64> = x.iter().chain(&y).copied().collect();
            pooled.sort_by(f64::total_cmp);
            let mut distinct = pooled.clone();
            distinct.dedup_by(|p, q| p == q);
            let (cx, cy) = (Column::Numeric(x.clone()), Column::Numeric(y.clone()));
            prop_assert_eq!(distinct_values(&cx, &cy, usize::MAX), Distinct::Exactly(distinct.len()));
            let bound = distinct_values(&cx, &cy, 5);
            prop_assert!(bound == Distinct::Exactly(distinct.len()) || (bound.lower() > 5 && bound.lower() <= distinct.len()), "{:?}", bound);
            // scipy's _cdf_distance: ECDFs at each pooled value times the gap to the next one.
            let small: Vec<f64> = x.iter().map(|v| v.clamp(-1e100, 1e100)).collect();
            let other: Vec<f64> = y.iter().map(|v| v.clamp(-1e100, 1e100)).collect();
            if !small.is_empty() && !other.is_empty() {
                let mut pooled: Vec<f64> = small.iter().chain(&other).copied().collect();
                pooled.sort_by(f64::total_cmp);
                let ecdf = |s: &[f64], v: f64| s.partition_point(|w| *w <= v) as f64 / s.len() as f64;
                let w: f64 = pooled.windows(2).map(|p| (ecdf(&small, p[0]) - ecdf(&other, p[0])).abs() * (p[1] - p[0])).sum();
                let ours = wasserstein::distance(&small, &other);
                prop_assert!((ours - w).abs() <= 1e-12 * w.abs().max(1e-300), "{} vs {}", ours, w);
                // Samples of one size take a path of their own.
                let mut same: Vec<f64> = other.iter().cycle().take(small.len()).copied().collect();
                same.sort_by(f64::total_cmp);
                let mut pooled: Vec<f64> = small.iter().chain(&same).copied().collect();
                pooled.sort_by(f64::total_cmp);
                let w: f64 = pooled.windows(2).map(|p| (ecdf(&small, p[0]) - ecdf(&same, p[0])).abs() * (p[1] - p[0])).sum();
                let ours = wasserstein::distance(&small, &same);
                prop_assert!((ours - w).abs() <= 1e-12 * w.abs().max(1e-300), "equal sizes: {} vs {}", ours, w);
            }
        }

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
            let (Column::Numeric(x), Column::Numeric(y)) = (&ra, &rb) else { panic!("not numeric") };
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
