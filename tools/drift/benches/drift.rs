//! Drift check timings in one process: a first check (both files read) and repeated checks with
//! the reference profile cached (only the current file is read), as `check_drift` does.
//!
//! `cargo bench -p mlops-drift --bench drift -- REFERENCE CURRENT` (files from `tools/drift/benches/drift_vs_evidently.py`,
//! CSV or Parquet). Prints wall times.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark stops at the first thing that is wrong"
)]

use std::path::Path;
use std::time::Instant;

use mlops_drift::profile_cache::{Lookup, ProfileCache};
use mlops_drift::report::{self, Options};
use mlops_drift::source::{self, Schema};

fn check(cache: &ProfileCache, reference: &Path, current: &Path) -> (f64, Lookup, bool) {
    let started = Instant::now();
    let schema = Schema::new();
    let (r, c) = std::thread::scope(|s| {
        let c = s.spawn(|| source::read(current, &schema).unwrap());
        let r = cache.get_or_read(reference, &schema).unwrap();
        (r, c.join().unwrap())
    });
    let (r, lookup) = r;
    let r = source::align_shared(r, &c, Some(reference)).unwrap();
    let report = report::compare(&r, &c, &Options::default());
    (
        started.elapsed().as_secs_f64(),
        lookup,
        report.dataset_drift,
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let [reference, current] = args.as_slice() else {
        eprintln!("usage: cargo bench --bench drift -- REFERENCE CURRENT");
        return;
    };
    let (reference, current) = (Path::new(reference), Path::new(current));
    let cache = ProfileCache::new(2 << 30);
    let (first, how, drift) = check(&cache, reference, current);
    assert_eq!(how, Lookup::Read);
    let mut repeated: Vec<f64> = (0..5)
        .map(|_| {
            let (t, how, d) = check(&cache, reference, current);
            assert_eq!((how, d), (Lookup::Cached, drift));
            t
        })
        .collect();
    repeated.sort_by(f64::total_cmp);
    println!(
        "{}: first check {first:.3} s (both files read), repeated check with the cached reference profile {:.3} s (median of 5), dataset drift {drift}",
        current.extension().and_then(|e| e.to_str()).unwrap_or("?"),
        repeated[2]
    );
}
