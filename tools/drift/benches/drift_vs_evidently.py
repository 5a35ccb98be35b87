"""Drift benchmark: `mlops-mcp drift` against Evidently 0.7.23 on the same files, same machine,
same run. 1,000,000 reference vs 1,000,000 current rows of 10 numeric and 5 categorical
(20 levels) features, from CSV and from Parquet. Each measurement is a fresh process; wall time
and peak RSS (from wait4) are printed as a Markdown table: ours six times (three just before
Evidently's one run, three just after), as the best and the median. The repeated check with a cached
reference profile is measured by the `drift` bench (one process, two checks).

Usage: python tools/drift/benches/drift_vs_evidently.py TARGET_DIR/release/mlops-mcp [WORKDIR] [ROWS]
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

EVIDENTLY = r"""
import sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
read = pd.read_parquet if sys.argv[1].endswith(".parquet") else pd.read_csv
ref, cur = read(sys.argv[1]), read(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
count = [m for m in snapshot.dict()["metrics"] if "DriftedColumnsCount" in m["metric_name"]][0]
print("drifted", count["value"]["count"])
"""


def generate(rows, seed, shift):
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(10):
        data[f"num_{i}"] = rng.normal(shift * (i % 3), 1.0 + 0.1 * i, rows)
    levels = [f"level_{j:02d}" for j in range(20)]
    for i in range(5):
        weights = np.linspace(1.0, 1.0 + shift * (i + 1), 20)
        data[f"cat_{i}"] = rng.choice(levels, size=rows, p=weights / weights.sum())
    return pd.DataFrame(data)


def run_measured(args):
    """Runs args under /usr/bin/time (stdout discarded); returns (seconds, peak RSS in MiB).
    GNU time forks the child from its own small process, so the peak is the child's own (a
    child forked from this Python process would inherit its high-water mark)."""
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{args}: exit {proc.returncode}: {proc.stderr[-2000:]}")
    seconds, kib = proc.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kib) / 1024


def main():
    binary = str(Path(sys.argv[1]).resolve())
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/drift-bench")
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    work.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, seed, shift in [("reference", 1, 0.0), ("current", 2, 0.1)]:
        csv, parquet = work / f"{name}-{rows}.csv", work / f"{name}-{rows}.parquet"
        if not (csv.exists() and parquet.exists()):
            df = generate(rows, seed, shift)
            df.to_csv(csv, index=False)
            df.to_parquet(parquet, index=False)
        files[name] = (csv, parquet)
    python = sys.executable
    script = work / "evidently_run.py"
    script.write_text(EVIDENTLY)
    results = []
    for fmt, idx in [("CSV", 0), ("Parquet", 1)]:
        ref, cur = str(files["reference"][idx]), str(files["current"][idx])
        # Ours three times just before and three times just after Evidently's run, so a slow
        # spell of this shared machine during either is seen in the figures.
        ours = [run_measured([binary, "drift", ref, cur, "--format", "json"]) for _ in range(3)]
        theirs = run_measured([python, str(script), ref, cur])
        ours += [run_measured([binary, "drift", ref, cur, "--format", "json"]) for _ in range(3)]
        times = sorted(o[0] for o in ours)
        median = (times[2] + times[3]) / 2
        results.append((fmt, times[0], median, max(o[1] for o in ours), theirs))
    size = {k: (v[0].stat().st_size / 2**20, v[1].stat().st_size / 2**20) for k, v in files.items()}
    print(f"{rows:,} vs {rows:,} rows, 10 numeric + 5 categorical (20 levels); "
          f"CSV {size['reference'][0]:.0f} + {size['current'][0]:.0f} MiB, "
          f"Parquet {size['reference'][1]:.0f} + {size['current'][1]:.0f} MiB; {os.cpu_count()} cores")
    print()
    print("| input | mlops-mcp drift, best of 6 (median) | peak RSS | Evidently 0.7.23 | peak RSS "
          "| speed-up, best (median) | memory ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt, best, median, om_max, (et, em) in results:
        print(f"| {fmt} | {best:.2f} s ({median:.2f} s) | {om_max:.0f} MiB | {et:.1f} s | {em:.0f} MiB | "
              f"{et / best:.0f}x ({et / median:.0f}x) | {om_max / em:.2f} |")


if __name__ == "__main__":
    main()
