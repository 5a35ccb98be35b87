"""Parity of `mlops-mcp drift --format json` with Evidently 0.7.23's DataDriftPreset.

Generates datasets (seeded) that vary size on both sides of 1,000 reference rows and of 10,000
rows for KS, skew, heavy tails, ties, category counts, NaNs and infinities; writes them as CSV;
runs Evidently and the binary on the same files; and checks, column by column, the same test,
the score within 1e-6, the same drift flag, and the same dataset verdict. A few datasets are
also compared with a test forced on every column (`method=` / `--stattest`).

Usage: python evidently_parity.py PATH/TO/mlops-mcp [WORKDIR]
Exits non-zero, listing every difference, if anything differs.
"""

import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

from evidently import Report  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

TOLERANCE = 1e-6
DIFFS = []

# Evidently's method names (ValueDrift config) -> our stattest names.
METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Kullback-Leibler divergence": "kl_div",
    "Hellinger distance (normed)": "hellinger",
}
P_VALUE_TESTS = {"ks", "chisquare", "z"}


def drifted(test, score, threshold):
    if test == "ks":
        return score <= threshold
    if test in P_VALUE_TESTS:
        return score < threshold
    return score >= threshold


def with_gaps(rng, values, nan_share=0.0, inf_share=0.0):
    values = np.asarray(values, dtype=float).copy()
    n = len(values)
    if nan_share:
        values[rng.random(n) < nan_share] = np.nan
    if inf_share:
        mask = rng.random(n) < inf_share
        values[mask] = np.where(rng.random(mask.sum()) < 0.5, np.inf, -np.inf)
    return values


def categories(rng, n, levels, p=None, prefix="c"):
    names = [f"{prefix}{i}" for i in range(levels)]
    return rng.choice(names, size=n, p=p)


def datasets():
    """(name, reference DataFrame, current DataFrame, forced method or None)."""
    rng = np.random.default_rng(20261122)
    out = []

    def add(name, ref, cur, method=None):
        out.append((name, pd.DataFrame(ref), pd.DataFrame(cur), method))

    for n_ref, n_cur in [(300, 300), (999, 800), (1000, 1200), (1001, 800), (5000, 3000)]:
        add(
            f"normal_shift_{n_ref}_{n_cur}",
            {
                "x": rng.normal(0, 1, n_ref),
                "y": rng.normal(5, 2, n_ref),
                "cat": categories(rng, n_ref, 4),
                "bin": categories(rng, n_ref, 2, prefix="b"),
            },
            {
                "x": rng.normal(0.15, 1, n_cur),
                "y": rng.normal(5, 2.2, n_cur),
                "cat": categories(rng, n_cur, 4, p=[0.3, 0.3, 0.2, 0.2]),
                "bin": categories(rng, n_cur, 2, p=[0.45, 0.55], prefix="b"),
            },
        )
    # KS beyond 10,000 current rows: scipy's kstwo branch (en ~ 800 and ~ 100).
    for n_ref in (800, 100):
        add(
            f"ks_kstwo_{n_ref}_12000",
            {"x": rng.normal(0, 1, n_ref), "z": rng.exponential(1, n_ref)},
            {"x": rng.normal(0.05, 1, 12000), "z": rng.exponential(1.1, 12000)},
        )
    add(
        "ks_exact_10000",
        {"x": rng.normal(0, 1, 1000)},
        {"x": rng.normal(0.02, 1, 10000)},
    )
    add(
        "skewed_lognormal",
        {"a": rng.lognormal(0, 1, 2500), "b": rng.lognormal(0, 1, 2500)},
        {"a": rng.lognormal(0.1, 1, 2000), "b": rng.lognormal(0, 1.3, 2000)},
    )
    add(
        "heavy_tails_small",
        {"t": rng.standard_t(1.5, 500), "c": rng.standard_cauchy(500)},
        {"t": rng.standard_t(1.5, 700) * 1.2, "c": rng.standard_cauchy(700)},
    )
    add(
        "heavy_tails_large",
        {"t": rng.standard_t(2, 4000), "c": rng.standard_cauchy(4000)},
        {"t": rng.standard_t(2, 4000), "c": rng.standard_cauchy(4000) + 0.3},
    )
    add(
        "ties_rounded",
        {"r": np.round(rng.normal(0, 1, 700), 1), "s": rng.integers(0, 8, 700) * 1.0},
        {"r": np.round(rng.normal(0.1, 1, 600), 1), "s": rng.integers(0, 9, 600) * 1.0},
    )
    add(
        "few_values_numeric",
        {"f3": rng.choice([0.5, 1.5, 2.5], 600), "f2": rng.choice([0.0, 1.0], 600)},
        {"f3": rng.choice([0.5, 1.5, 2.5], 500, p=[0.5, 0.3, 0.2]), "f2": rng.choice([0.0, 1.0], 500)},
    )
    add(
        "few_values_numeric_large",
        {"f3": rng.choice([0.5, 1.5, 2.5], 3000), "f2": rng.choice([0.0, 1.0], 3000)},
        {"f3": rng.choice([0.5, 1.5, 2.5], 2000), "f2": rng.choice([0.0, 1.0], 2000, p=[0.4, 0.6])},
    )
    for levels, n in [(2, 400), (3, 600), (5, 900), (20, 900), (20, 6000)]:
        add(
            f"categories_{levels}_{n}",
            {"cat": categories(rng, n, levels), "other": categories(rng, n, 3, prefix="o")},
            {
                "cat": categories(rng, n, levels, p=np.linspace(1, 2, levels) / np.linspace(1, 2, levels).sum()),
                "other": categories(rng, n, 3, prefix="o"),
            },
        )
    add(
        "new_and_vanished_categories",
        {"cat": categories(rng, 800, 5), "x": rng.normal(0, 1, 800)},
        {"cat": rng.choice(["c0", "c1", "c2", "c9"], 800), "x": rng.normal(0, 1, 800)},
    )
    add(
        "nans_and_infinities",
        {
            "x": with_gaps(rng, rng.normal(0, 1, 900), 0.1, 0.02),
            "y": with_gaps(rng, rng.gamma(2, 1, 900), 0.3),
            "cat": np.where(rng.random(900) < 0.1, None, categories(rng, 900, 4)),
        },
        {
            "x": with_gaps(rng, rng.normal(0.2, 1, 700), 0.05, 0.01),
            "y": with_gaps(rng, rng.gamma(2, 1.1, 700), 0.1),
            "cat": np.where(rng.random(700) < 0.2, None, categories(rng, 700, 4)),
        },
    )
    add(
        "nans_large",
        {"x": with_gaps(rng, rng.normal(0, 1, 3000), 0.2, 0.01), "cat": categories(rng, 3000, 6)},
        {"x": with_gaps(rng, rng.normal(0, 1.1, 2500), 0.1), "cat": categories(rng, 2500, 6)},
    )
    add(
        "integer_columns",
        {"few": rng.integers(0, 6, 800), "many": rng.integers(0, 500, 800), "gappy": with_gaps(rng, rng.integers(0, 4, 800), 0.1)},
        {"few": rng.integers(0, 7, 700), "many": rng.integers(20, 520, 700), "gappy": with_gaps(rng, rng.integers(0, 4, 700), 0.05)},
    )
    add(
        "identical_large",
        {"x": rng.normal(0, 1, 20000), "cat": categories(rng, 20000, 8)},
        {"x": rng.normal(0, 1, 20000), "cat": categories(rng, 20000, 8)},
    )
    add(
        "half_the_features_drift",
        {f"f{i}": rng.normal(0, 1, 1500) for i in range(4)},
        {f"f{i}": rng.normal(0.5 if i < 2 else 0, 1, 1500) for i in range(4)},
    )
    # Tests forced on every column.
    base_ref = {"x": rng.normal(0, 1, 2000), "g": rng.gamma(2, 1, 2000), "cat": categories(rng, 2000, 6)}
    base_cur = {"x": rng.normal(0.1, 1.1, 1500), "g": rng.gamma(2.2, 1, 1500), "cat": categories(rng, 1500, 6, p=[0.25, 0.15, 0.15, 0.15, 0.15, 0.15])}
    for method in ["psi", "kl_div", "jensenshannon", "hellinger", "wasserstein"]:
        numeric_only = method == "wasserstein"
        ref = {k: v for k, v in base_ref.items() if not (numeric_only and k == "cat")}
        cur = {k: v for k, v in base_cur.items() if not (numeric_only and k == "cat")}
        add(f"forced_{method}", ref, cur, method)
    return out


def evidently(ref, cur, method):
    preset = DataDriftPreset(method=method) if method else DataDriftPreset()
    snapshot = Report([preset]).run(current_data=cur, reference_data=ref)
    result = {"columns": {}, "count": None}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            result["count"] = metric["value"]["count"]
            result["share"] = metric["value"]["share"]
        elif config["type"].endswith("ValueDrift"):
            test = METHODS.get(config["method"], config["method"])
            result["columns"][config["column"]] = {
                "stattest": test,
                "score": float(metric["value"]),
                "threshold": config["threshold"],
            }
    return result


def ours(binary, ref_path, cur_path, method):
    args = [binary, "drift", str(ref_path), str(cur_path), "--format", "json"]
    if method:
        args += ["--stattest", method]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(args)}: exit {proc.returncode}: {proc.stderr}")
    report = json.loads(proc.stdout)
    if proc.returncode != int(report["dataset_drift"]):
        raise RuntimeError(f"exit status {proc.returncode} disagrees with the report")
    return report


def compare(name, theirs, mine):
    problems = []
    features = {f["name"]: f for f in mine["features"]}
    for column, e in theirs["columns"].items():
        f = features.get(column)
        if f is None:
            problems.append(f"{name}/{column}: missing from our report")
            continue
        if f["stattest"] != e["stattest"]:
            problems.append(f"{name}/{column}: test {f['stattest']} vs Evidently {e['stattest']}")
            continue
        if f["score"] is not None:
            DIFFS.append(abs(f["score"] - e["score"]))
        if f["score"] is None or abs(f["score"] - e["score"]) > TOLERANCE:
            problems.append(f"{name}/{column}: score {f['score']!r} vs Evidently {e['score']!r}")
        their_flag = drifted(e["stattest"], e["score"], e["threshold"])
        if f["drift_detected"] != their_flag:
            problems.append(f"{name}/{column}: drift {f['drift_detected']} vs Evidently {their_flag}")
    tested = [f for f in mine["features"] if f["score"] is not None]
    if len(tested) != len(theirs["columns"]):
        problems.append(f"{name}: {len(tested)} columns tested vs Evidently {len(theirs['columns'])}")
    if mine["drifted_features"] != theirs["count"]:
        problems.append(f"{name}: {mine['drifted_features']} drifted vs Evidently {theirs['count']}")
    their_verdict = theirs["share"] >= 0.5
    if mine["dataset_drift"] != their_verdict:
        problems.append(f"{name}: dataset drift {mine['dataset_drift']} vs Evidently {their_verdict}")
    return problems


FORMAT_DATASETS = {"normal_shift_1001_800", "integer_columns", "nans_large", "categories_5_900"}


def same_report(name, a, b):
    problems = []
    fa = {f["name"]: f for f in a["features"]}
    for f in b["features"]:
        g = fa.get(f["name"])
        if g is None:
            problems.append(f"{name}/{f['name']}: not in the CSV report")
            continue
        for key in ("kind", "stattest", "drift_detected", "reference_rows", "current_rows"):
            if f[key] != g[key]:
                problems.append(f"{name}/{f['name']}: {key} {f[key]!r} vs CSV {g[key]!r}")
        if (f["score"] is None) != (g["score"] is None) or (
            f["score"] is not None and abs(f["score"] - g["score"]) > 1e-12
        ):
            problems.append(f"{name}/{f['name']}: score {f['score']!r} vs CSV {g['score']!r}")
    if a["dataset_drift"] != b["dataset_drift"]:
        problems.append(f"{name}: dataset drift differs from CSV")
    return problems


def main():
    binary = sys.argv[1]
    work = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="parity-"))
    work.mkdir(parents=True, exist_ok=True)
    problems, compared, columns = [], 0, 0
    for name, ref, cur, method in datasets():
        ref_path, cur_path = work / f"{name}.ref.csv", work / f"{name}.cur.csv"
        ref.to_csv(ref_path, index=False)
        cur.to_csv(cur_path, index=False)
        # Evidently gets what pandas reads back from the same files.
        ref_df, cur_df = pd.read_csv(ref_path), pd.read_csv(cur_path)
        theirs = evidently(ref_df, cur_df, method)
        mine = ours(binary, ref_path, cur_path, method)
        found = compare(name, theirs, mine)
        problems += found
        compared += 1
        columns += len(theirs["columns"])
        tests = ",".join(sorted({c["stattest"] for c in theirs["columns"].values()}))
        print(f"{'ok  ' if not found else 'DIFF'} {name}: {len(theirs['columns'])} columns ({tests}), "
              f"{theirs['count']:.0f} drifted")
    # The same data from Parquet and JSON lines gives the same report as from CSV.
    for name, ref, cur, method in datasets():
        if name not in FORMAT_DATASETS:
            continue
        from_csv = ours(binary, work / f"{name}.ref.csv", work / f"{name}.cur.csv", method)
        for ext, write in [("parquet", lambda df, p: df.to_parquet(p, index=False)),
                           ("jsonl", lambda df, p: df.to_json(p, orient="records", lines=True))]:
            ref_path, cur_path = work / f"{name}.ref.{ext}", work / f"{name}.cur.{ext}"
            write(pd.read_csv(work / f"{name}.ref.csv"), ref_path)
            write(pd.read_csv(work / f"{name}.cur.csv"), cur_path)
            other = ours(binary, ref_path, cur_path, method)
            found = same_report(f"{name} ({ext})", from_csv, other)
            problems += found
            print(f"{'ok  ' if not found else 'DIFF'} {name}: {ext} report equals the CSV report")
    print(f"{compared} datasets, {columns} columns compared with Evidently 0.7.23; "
          f"largest score difference {max(DIFFS, default=0.0):.3g} (tolerance {TOLERANCE:g})")
    if problems:
        print("\n".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
