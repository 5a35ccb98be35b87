"""Ingest benchmark: `POST /v1/models/{m}/records` with 1,000,000 rows of the drift benchmark's
data (10 numeric, 5 categorical features, plus a timestamp in the last hour) in 100,000-row
batches, as CSV, gzip-compressed CSV and Parquet bodies, each into a fresh store; then
`check_drift last=2h` over the ingested rows; and, in the same run, the file check
`mlops-mcp drift ref.parquet cur.parquet` the ratios are taken against. Prints a Markdown table.

Usage: python benches/ingest/ingest.py TARGET_DIR/release/mlops-mcp [WORKDIR] [ROWS]
"""

import gzip
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "drift" / "benches"))
from drift_vs_evidently import generate  # noqa: E402

BATCH = 100_000

CONFIG = """[store]
url = "sqlite://{db}"
[http]
bind = "127.0.0.1:0"
max_ingest_bytes = 268435456
[auth]
hs256_secret = "{secret}"
[limits]
max_rows_per_model = 20000000
max_window_rows = 20000000
[[models]]
name = "bench"
owner = "bench"
task = "binary_classification"
reference_data = "{ref}"
current_data = "{cur}"
features = [{features}]
"""


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, r.read()


def main():
    binary = sys.argv[1]
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/ingest-bench")
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    work.mkdir(parents=True, exist_ok=True)
    ref, cur = work / f"ref-{rows}.parquet", work / f"cur-{rows}.parquet"
    if not (ref.exists() and cur.exists()):
        generate(rows, 1, 0.0).to_parquet(ref, index=False)
        generate(rows, 2, 0.3).to_parquet(cur, index=False)
    frame = pd.read_parquet(cur)
    now = pd.Timestamp.now(tz="UTC").floor("us")
    frame.insert(0, "timestamp", now - pd.to_timedelta((rows - pd.RangeIndex(rows)) * 3_000_000 // rows, unit="ms"))
    batches = [frame.iloc[i:i + BATCH] for i in range(0, rows, BATCH)]
    csv_bodies = []
    for b in batches:
        out = b.copy()
        out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        csv_bodies.append(out.to_csv(index=False).encode())
    bodies = {
        "CSV": ("text/csv", None, csv_bodies),
        "CSV, gzip": ("text/csv", "gzip", [gzip.compress(b, 6) for b in csv_bodies]),
        "Parquet": ("application/vnd.apache.parquet", None, []),
    }
    for b in batches:
        buf = io.BytesIO()
        b.to_parquet(buf, index=False)
        bodies["Parquet"][2].append(buf.getvalue())

    t = time.perf_counter()
    subprocess.run([binary, "drift", str(ref), str(cur), "--format", "json"], capture_output=True)
    file_check = time.perf_counter() - t
    parquet_bytes = cur.stat().st_size

    features = ", ".join(
        [f'{{ name = "num_{i}", kind = "numeric" }}' for i in range(10)]
        + [f'{{ name = "cat_{i}", kind = "categorical" }}' for i in range(5)]
    )
    print(f"{rows:,} rows in {len(batches)} batches; file check `mlops-mcp drift ref.parquet cur.parquet`: {file_check:.2f} s\n")
    print("| body | sent MB | ingest s | rows/s | vs file check | check_drift last=2h s | vs file check | store bytes/row | vs Parquet |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (ctype, encoding, payloads) in bodies.items():
        ws = work / re.sub(r"\W+", "-", name.lower())
        if ws.exists():
            subprocess.run(["rm", "-rf", str(ws)], check=True)
        ws.mkdir()
        db = ws / "store.db"
        config = ws / "mlops-mcp.toml"
        config.write_text(CONFIG.format(db=db, secret="b" * 64, ref=ref, cur=cur, features=features))
        token = subprocess.run(
            [binary, "--config", str(config), "token", "issue", "--sub", "bench", "--scopes", "all"],
            check=True, capture_output=True, text=True).stdout.strip()
        server = subprocess.Popen([binary, "--config", str(config), "serve", "--http", "127.0.0.1:0"],
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, "MLOPS_MCP_LOG": "warn"})
        base = None
        for line in server.stderr:
            m = re.match(r"listening on (http://\S+)/mcp", line)
            if m:
                base = m.group(1)
                break
        headers = {"authorization": f"Bearer {token}", "content-type": ctype}
        if encoding:
            headers["content-encoding"] = encoding
        t = time.perf_counter()
        for p in payloads:
            status, body = post(f"{base}/v1/models/bench/records", p, headers)
            assert status == 200, body
        ingest = time.perf_counter() - t
        call = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": {"name": "check_drift", "arguments": {"model": "bench", "last": "2h"}}}).encode()
        t = time.perf_counter()
        status, answer = post(f"{base}/mcp", call, {"authorization": f"Bearer {token}", "content-type": "application/json",
                                                    "accept": "application/json, text/event-stream",
                                                    "mcp-protocol-version": "2025-06-18"})
        window = time.perf_counter() - t
        text = answer.decode()
        assert '"isError":false' in text.replace(" ", ""), text[:500]
        server.terminate()
        server.wait()
        stored = sum(f.stat().st_size for f in ws.glob("store.db*"))
        sent = sum(len(p) for p in payloads)
        print(f"| {name} | {sent / 1e6:.1f} | {ingest:.1f} | {rows / ingest:,.0f} | {ingest / file_check:.1f}x | "
              f"{window:.2f} | {window / file_check:.1f}x | {stored / rows:.0f} | {stored / parquet_bytes:.1f}x |")


if __name__ == "__main__":
    main()
