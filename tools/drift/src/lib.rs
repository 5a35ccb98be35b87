//! Drift statistics, one file per statistic, matching Evidently 0.7's pandas engine (and the
//! scipy/numpy calls it makes) number for number. Inputs are already cleaned of NaN and
//! infinities, as Evidently does before testing.
//!
//! Sources (CSV, Parquet, JSON lines, ingested rows) are in [`source`]; [`report`] puts the
//! statistics together into a dataset report.

#![expect(
    clippy::indexing_slicing,
    reason = "the statistics' hot loops index ranges their own lengths bound (sorted samples, \
              bin edges, CDF steps); moving them to get() costs measurable time per check and is \
              left for a change measured against the drift benchmark"
)]

pub(crate) mod binning;
pub(crate) mod chi2_contingency;
pub(crate) mod chisquare;
pub(crate) mod column;
pub(crate) mod hellinger;
pub(crate) mod jensenshannon;
pub(crate) mod kl_div;
pub(crate) mod ks;
pub(crate) mod kstwo;
pub(crate) mod l_infinity;
pub mod profile_cache;
pub(crate) mod psi;
pub mod report;
pub mod select;
pub mod source;
pub(crate) mod wasserstein;
pub(crate) mod z;

use std::collections::BTreeMap;

/// A categorical (or discrete numeric) value, ordered so results are deterministic.
pub type Counts<K> = BTreeMap<K, u64>;

/// Counts of each distinct value.
pub fn counts<K: Ord + Clone>(values: &[K]) -> Counts<K> {
    let mut out = Counts::new();
    for v in values {
        *out.entry(v.clone()).or_insert(0) += 1;
    }
    out
}

/// An `f64` usable as a map key (numeric columns with few distinct values are counted like
/// categories). Orders like `f64::total_cmp`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumKey(pub f64);

impl Eq for NumKey {}

impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NumKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
pub(crate) mod golden {
    //! The deterministic generators of the research notes (§2.6), whose Evidently 0.7.23
    //! results are the golden values.

    const A: f64 = 0.754_877_666_246_692_7;
    const B: f64 = 0.569_840_290_998_053_2;
    const LETTERS: [&str; 5] = ["a", "b", "c", "d", "e"];

    fn frac(x: f64) -> f64 {
        x % 1.0
    }

    pub fn ref_num(n: usize) -> Vec<f64> {
        (0..n).map(|i| frac(i as f64 * A)).collect()
    }

    pub fn cur_num(n: usize) -> Vec<f64> {
        (0..n).map(|i| frac(i as f64 * B) * 0.98 + 0.015).collect()
    }

    pub fn ref_cat(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| LETTERS[(frac(i as f64 * A) * 5.0) as usize].to_owned())
            .collect()
    }

    pub fn cur_cat(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                LETTERS[((frac(i as f64 * B) * 1.04).min(0.999_999) * 5.0) as usize].to_owned()
            })
            .collect()
    }

    pub fn ref_bin(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| if frac(i as f64 * A) < 0.5 { "x" } else { "y" }.to_owned())
            .collect()
    }

    pub fn cur_bin(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| if frac(i as f64 * B) < 0.53 { "x" } else { "y" }.to_owned())
            .collect()
    }

    pub fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() <= 1e-9
    }
}

#[cfg(test)]
mod golden_values {
    //! Every golden value of the research notes (§2.6) except KS, which `ks.rs` checks.

    use super::golden::*;
    use super::*;

    struct Case {
        m: usize,
        n: usize,
        psi_num: f64,
        kl_num: f64,
        js_num: f64,
        hellinger_num: f64,
        chisquare_cat: f64,
        psi_cat: f64,
        js_cat: f64,
        z_bin: f64,
        chisquare_bin: f64,
    }

    const CASES: [Case; 3] = [
        Case {
            m: 800,
            n: 1200,
            psi_num: 0.004_814_176_879_789_44,
            kl_num: 0.002_472_261_378_229_625,
            js_num: 0.024_511_266_430_473_13,
            hellinger_num: 0.024_521_145_260_371_35,
            chisquare_cat: 0.071_716_298_724_995_67,
            psi_cat: 0.006_784_393_201_123_37,
            js_cat: 0.029_109_613_680_255_046,
            z_bin: 0.220_936_957_138_579_97,
            chisquare_bin: 0.053_097_214_331_245_28,
        },
        Case {
            m: 5000,
            n: 3000,
            psi_num: 0.003_769_864_002_545_781,
            kl_num: 0.001_945_110_453_672_275_9,
            js_num: 0.021_688_116_954_858_56,
            hellinger_num: 0.021_697_999_164_729_663,
            chisquare_cat: 0.000_900_202_535_052_746_9,
            psi_cat: 0.005_903_474_494_803_199,
            js_cat: 0.027_155_232_525_735_623,
            z_bin: 0.011_614_500_722_178_844,
            chisquare_bin: 0.001_415_865_722_624_413_3,
        },
        Case {
            m: 20000,
            n: 15000,
            psi_num: 0.004_636_613_630_596_008,
            kl_num: 0.002_411_594_486_496_006_2,
            js_num: 0.024_040_925_449_935_79,
            hellinger_num: 0.024_057_636_032_393_085,
            chisquare_cat: 1.575_776_840_177_73e-18,
            psi_cat: 0.005_663_830_302_676_682,
            js_cat: 0.026_598_700_344_370_79,
            z_bin: 2.699_888_046_464_593_6e-8,
            chisquare_bin: 1.944_582_105_692_496e-13,
        },
    ];

    #[test]
    fn statistics_match_evidently() {
        for c in &CASES {
            let (mut r, mut k) = (ref_num(c.m), cur_num(c.n));
            r.sort_by(f64::total_cmp);
            k.sort_by(f64::total_cmp);
            let (pr, pc) = binning::numeric(&r, &k);
            let (rc, cc) = (counts(&ref_cat(c.m)), counts(&cur_cat(c.n)));
            let (rb, cb) = (counts(&ref_bin(c.m)), counts(&cur_bin(c.n)));
            let (pcr, pcc) = binning::proportions(&rc, &cc);
            let checks = [
                ("psi(num)", psi::psi(&pr, &pc), c.psi_num),
                ("kl_div(num)", kl_div::kl_div(&pr, &pc), c.kl_num),
                (
                    "jensenshannon(num)",
                    jensenshannon::jensenshannon(&pr, &pc),
                    c.js_num,
                ),
                (
                    "hellinger(num)",
                    hellinger::numeric(&r, &k),
                    c.hellinger_num,
                ),
                (
                    "chisquare(cat)",
                    chisquare::chisquare(&rc, &cc),
                    c.chisquare_cat,
                ),
                ("psi(cat)", psi::psi(&pcr, &pcc), c.psi_cat),
                (
                    "jensenshannon(cat)",
                    jensenshannon::jensenshannon(&pcr, &pcc),
                    c.js_cat,
                ),
                ("z(bin)", z::z_test(&rb, &cb), c.z_bin),
                (
                    "chisquare(bin)",
                    chisquare::chisquare(&rb, &cb),
                    c.chisquare_bin,
                ),
            ];
            for (name, actual, expected) in checks {
                assert!(
                    close(actual, expected),
                    "{}/{} {name}: {actual} vs {expected}",
                    c.m,
                    c.n
                );
            }
        }
    }

    #[test]
    fn identical_samples_show_no_drift() {
        let mut r = ref_num(500);
        r.sort_by(f64::total_cmp);
        let (p, q) = binning::numeric(&r, &r);
        assert!(psi::psi(&p, &q).abs() < 1e-12);
        assert!(kl_div::kl_div(&p, &q).abs() < 1e-12);
        assert!(jensenshannon::jensenshannon(&p, &q) < 1e-7);
        assert!(hellinger::numeric(&r, &r) < 1e-7);
        let c = counts(&ref_cat(500));
        assert!((chisquare::chisquare(&c, &c) - 1.0).abs() < 1e-12);
        assert!((z::z_test(&c, &c) - 1.0).abs() < 1e-12);
        // A category never seen in the reference: chi-square p = 0, as in Evidently.
        let mut new = c.clone();
        new.insert("zzz".to_owned(), 1);
        assert_eq!(chisquare::chisquare(&c, &new), 0.0);
    }
}
