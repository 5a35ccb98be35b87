"""CBPE estimates of `mlops-mcp quality --reference` against NannyML's CBPE on generated
datasets: a binary classifier's scores, miscalibrated in several ways, a labelled reference and
an analysis window with shifted inputs and no labels. Both must make the same calibration
decision and agree on estimated accuracy, precision, recall, F1 and ROC AUC to 1e-6.

    python tests/parity/nannyml_cbpe.py target/debug/mlops-mcp WORKDIR

Run by .ci/run in its own virtual environment with the pinned versions of
tests/parity/requirements.txt (NannyML pins its own numpy and pandas).
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
# NannyML reports usage to a third party unless told not to; the run stays on loopback.
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
import nannyml as nml  # noqa: E402

TOLERANCE = 1e-6
METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]


def logit(p):
    return np.log(p / (1 - p))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name, reference rows, analysis rows, slope, intercept (true probability), how the model's
# score distorts it, input shift of the analysis window, decision threshold
CASES = [
    ("overconfident", 5000, 3000, 1.5, -1.0, lambda p: sigmoid(3 * logit(p)), 0.6, 0.5),
    ("underconfident", 5000, 3000, 1.5, -1.0, lambda p: sigmoid(0.4 * logit(p)), 0.6, 0.5),
    ("scores too high", 4000, 2000, 1.2, -0.5, lambda p: p ** 0.3, -0.4, 0.5),
    ("rare positives", 20000, 8000, 1.5, -4.0, lambda p: sigmoid(2 * logit(p)), 0.8, 0.5),
    ("small reference", 600, 1500, 2.0, 0.0, lambda p: sigmoid(2.5 * logit(p)), 0.3, 0.5),
    ("low threshold", 5000, 3000, 1.5, -1.5, lambda p: sigmoid(3 * logit(p)), 0.5, 0.3),
    ("separable", 3000, 2000, 40.0, 0.0, lambda p: p, 0.2, 0.5),
]


def generate(rng, n, slope, intercept, distort, shift):
    z = rng.normal(shift, 1.0, n)
    p = np.clip(sigmoid(intercept + slope * z), 1e-9, 1 - 1e-9)
    y = (rng.random(n) < p).astype(int)
    # Scores rounded to 12 places: the CSV holds exactly what NannyML reads.
    score = np.round(np.clip(distort(p), 0.0, 1.0), 12)
    return score, y


def nannyml(ref_s, ref_y, ana_s, threshold):
    ref = pd.DataFrame({"p": ref_s, "y": ref_y, "y_pred": (ref_s >= threshold).astype(int)})
    ana = pd.DataFrame({"p": ana_s, "y_pred": (ana_s >= threshold).astype(int)})
    est = nml.CBPE(
        y_pred_proba="p",
        y_pred="y_pred",
        y_true="y",
        problem_type="classification_binary",
        metrics=["roc_auc", "f1", "precision", "recall", "accuracy"],
        chunk_number=1,
    )
    est.fit(ref)
    out = est.estimate(ana).filter(period="analysis").to_df()
    assert len(out) == 1, out
    values = {m: float(out[(m, "value")].iloc[0]) for m in METRICS}
    return est.needs_calibration, values


def ours(binary, workdir, name, ref_s, ref_y, ana_s, threshold):
    ref_path = os.path.join(workdir, f"{name}-reference.csv")
    ana_path = os.path.join(workdir, f"{name}-analysis.csv")
    pd.DataFrame({"prediction": ref_s, "label": ref_y}).to_csv(ref_path, index=False, float_format="%.12f")
    pd.DataFrame({"prediction": ana_s, "label": [""] * len(ana_s)}).to_csv(
        ana_path, index=False, float_format="%.12f"
    )
    out = subprocess.run(
        [binary, "quality", ana_path, "--reference", ref_path, "--threshold", str(threshold)],
        check=True,
        capture_output=True,
        text=True,
    )
    estimated = json.loads(out.stdout)["estimated"]
    return estimated["calibration"] == "isotonic", estimated["metrics"]


def main():
    binary, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    rng = np.random.default_rng(20261206)
    failures, compared, worst = [], 0, 0.0
    for name, n_ref, n_ana, slope, intercept, distort, shift, threshold in CASES:
        ref_s, ref_y = generate(rng, n_ref, slope, intercept, distort, 0.0)
        ana_s, _ = generate(rng, n_ana, slope, intercept, distort, shift)
        their_cal, theirs = nannyml(ref_s, ref_y, ana_s, threshold)
        our_cal, mine = ours(binary, workdir, name.replace(" ", "-"), ref_s, ref_y, ana_s, threshold)
        line = [f"{name:16} calibration nannyml={their_cal} ours={our_cal}"]
        if their_cal != our_cal:
            failures.append(f"{name}: calibration decision nannyml={their_cal} ours={our_cal}")
        for m in METRICS:
            a, b = theirs[m], mine.get(m)
            compared += 1
            if b is not None:
                worst = max(worst, abs(a - b))
            if b is None or abs(a - b) > TOLERANCE:
                failures.append(f"{name}: {m} nannyml={a!r} ours={b!r}")
            line.append(f"{m}={a:.6f}/{b if b is None else round(b, 6)}")
        print("  ".join(line))
    if failures:
        print(f"{len(failures)} differences:", *failures, sep="\n  ")
        sys.exit(1)
    print(f"ok: {len(CASES)} datasets, {compared} estimates equal within {TOLERANCE} (largest difference {worst:.2e})")


if __name__ == "__main__":
    main()
