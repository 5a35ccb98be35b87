"""Every quality metric of `mlops-mcp quality` against scikit-learn on generated datasets: both
tasks, class imbalance, ties in scores, one-class windows. A metric scikit-learn leaves
undefined (it raises, warns of an ill-defined value, or returns nan) must be `null` in ours;
every other must agree to 1e-9.

    python tools/quality/parity/sklearn_parity.py target/debug/mlops-mcp WORKDIR

Run by .ci/run with the pinned versions of requirements.txt.
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
from sklearn import metrics as sk

TOLERANCE = 1e-9


def sklearn_or_none(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            value = float(fn(*args, **kwargs))
        except (ValueError, UserWarning, RuntimeWarning, ZeroDivisionError):
            return None
    return None if np.isnan(value) else value


def classification(y, p, threshold):
    pred = (p >= threshold).astype(int)
    return {
        "accuracy": sklearn_or_none(sk.accuracy_score, y, pred),
        "precision": sklearn_or_none(sk.precision_score, y, pred, zero_division="warn"),
        "recall": sklearn_or_none(sk.recall_score, y, pred, zero_division="warn"),
        "f1": sklearn_or_none(sk.f1_score, y, pred, zero_division="warn"),
        "roc_auc": sklearn_or_none(sk.roc_auc_score, y, p),
        "average_precision": sklearn_or_none(sk.average_precision_score, y, p),
        "log_loss": sklearn_or_none(sk.log_loss, y, p, labels=[0, 1]),
        "brier_score": sklearn_or_none(sk.brier_score_loss, y, p, pos_label=1),
    }


def regression(y, p):
    return {
        "mae": sklearn_or_none(sk.mean_absolute_error, y, p),
        "rmse": sklearn_or_none(sk.root_mean_squared_error, y, p),
        "mape": sklearn_or_none(sk.mean_absolute_percentage_error, y, p),
        "r2": sklearn_or_none(sk.r2_score, y, p, force_finite=False),
    }


def datasets():
    rng = np.random.default_rng(20261206)
    out = []
    for i in range(16):
        n = int(rng.choice([30, 200, 1000, 5000]))
        prevalence = [0.5, 0.2, 0.05, 0.01][i % 4]
        y = (rng.random(n) < prevalence).astype(int)
        signal = rng.normal(1.0 if i % 3 else 0.3, 1.0, n) * y + rng.normal(0, 1, n)
        p = 1 / (1 + np.exp(-signal))
        if i % 2:  # ties: scores rounded to two decimals
            p = np.round(p, 2)
        threshold = [0.5, 0.3, 0.7, 0.5][i % 4]
        out.append((f"classification-{i} n={n} prevalence={prevalence}", "binary_classification", y, p, threshold))
    for name, y, p in [
        ("one class: all negative", np.zeros(50, int), rng.random(50)),
        ("one class: all positive", np.ones(50, int), rng.random(50)),
        ("no predicted positive", (rng.random(80) < 0.3).astype(int), rng.random(80) * 0.4),
        ("constant scores", (rng.random(100) < 0.4).astype(int), np.full(100, 0.5)),
        ("scores at 0 and 1", (rng.random(100) < 0.4).astype(int), rng.integers(0, 2, 100).astype(float)),
    ]:
        out.append((name, "binary_classification", y, p, 0.5))
    for i in range(8):
        n = int(rng.choice([20, 300, 4000]))
        y = rng.normal(100 if i % 2 else 0.5, 10 if i % 2 else 1, n)
        p = y + rng.normal(0, [0.1, 1, 5, 20][i % 4], n)
        out.append((f"regression-{i} n={n}", "regression", y, p, 0.5))
    out.append(("regression: constant target", "regression", np.full(40, 3.0), rng.normal(3, 1, 40), 0.5))
    out.append(("regression: zeros in the target", "regression", np.r_[np.zeros(5), rng.normal(2, 1, 45)], rng.normal(2, 1, 50), 0.5))
    return out


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    failures, compared, undefined = [], 0, 0
    for i, (name, task, y, p, threshold) in enumerate(datasets()):
        path = os.path.join(work, f"set-{i}.csv")
        with open(path, "w") as f:
            f.write("prediction,label\n")
            for a, b in zip(p, y):
                f.write(f"{float(a)!r},{float(b)!r}\n")
        run = subprocess.run(
            [binary, "quality", path, "--task", task, "--threshold", str(threshold)],
            capture_output=True, text=True,
        )
        if run.returncode != 0:
            failures.append(f"{name}: exit {run.returncode}: {run.stderr.strip()}")
            continue
        ours = {k: v["value"] for k, v in json.loads(run.stdout)["metrics"].items()}
        theirs = classification(y, p, threshold) if task == "binary_classification" else regression(y, p)
        for metric, expected in theirs.items():
            got = ours.get(metric)
            if expected is None:
                undefined += 1
                if got is not None:
                    failures.append(f"{name}: {metric}: scikit-learn leaves it undefined, ours is {got}")
            elif got is None or abs(got - expected) > TOLERANCE * max(1.0, abs(expected)):
                failures.append(f"{name}: {metric}: ours {got}, scikit-learn {expected}")
            else:
                compared += 1
    print(f"{len(datasets())} datasets: {compared} metric values equal to scikit-learn's within "
          f"{TOLERANCE}, {undefined} undefined in both")
    for f in failures:
        print("MISMATCH", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
