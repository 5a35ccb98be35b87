"""Ingest benchmark: `POST /v1/models/{m}/records` with 1,000,000 rows of the drift benchmark's
data (10 numeric, 5 categorical features, plus a timestamp in the last hour) in 100,000-row
batches, as CSV, gzip-compressed CSV, Parquet and Arrow IPC stream bodies, each into a fresh store; then
`check_drift last=2h` over the ingested rows; and, in the same run, the file check
`mlops-mcp drift ref.parquet cur.parquet` the ratios are taken against. Prints a Markdown table.

The server is restarted before the check, and its peak resident memory during the check
(VmHWM) is reported. `MLOPS_BENCH_BODIES=CSV` (names joined by `;`) limits the bodies (10 M rows: all three would
hold 5 GB of bodies in memory). With `MLOPS_BENCH_S3=http://127.0.0.1:PORT` (moto's server, as
`tests/s3/start.sh` starts it) the current data is also uploaded as a partitioned dataset (ten
files under `dt=TODAY/`) and checked from there (`check_drift last=1d`).

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


def start(binary, config, env=None):
    server = subprocess.Popen([binary, "--config", str(config), "serve", "--http", "127.0.0.1:0"],
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "MLOPS_MCP_LOG": "warn", **(env or {})})
    for line in server.stderr:
        m = re.match(r"listening on (http://\S+)/mcp", line)
        if m:
            return server, m.group(1)
    raise RuntimeError("the server did not start")


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def check(base, token, args):
    call = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "check_drift", "arguments": args}}).encode()
    t = time.perf_counter()
    status, answer = post(f"{base}/mcp", call, {"authorization": f"Bearer {token}", "content-type": "application/json",
                                                "accept": "application/json, text/event-stream",
                                                "mcp-protocol-version": "2025-06-18"})
    took = time.perf_counter() - t
    text = answer.decode()
    assert '"isError":false' in text.replace(" ", ""), text[:500]
    return took


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
    wanted = os.environ.get("MLOPS_BENCH_BODIES", "CSV;CSV, gzip;Parquet;Arrow IPC").split(";")
    csv_bodies = []
    if "CSV" in wanted or "CSV, gzip" in wanted:
        for b in batches:
            out = b.copy()
            out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            csv_bodies.append(out.to_csv(index=False).encode())
    bodies = {}
    if "CSV" in wanted:
        bodies["CSV"] = ("text/csv", None, csv_bodies)
    if "CSV, gzip" in wanted:
        bodies["CSV, gzip"] = ("text/csv", "gzip", [gzip.compress(b, 6) for b in csv_bodies])
    if "Parquet" in wanted:
        bodies["Parquet"] = ("application/vnd.apache.parquet", None, [])
        for b in batches:
            buf = io.BytesIO()
            b.to_parquet(buf, index=False)
            bodies["Parquet"][2].append(buf.getvalue())
    if "Arrow IPC" in wanted:
        import pyarrow as pa
        bodies["Arrow IPC"] = ("application/vnd.apache.arrow.stream", None, [])
        for b in batches:
            table = pa.Table.from_pandas(b, preserve_index=False)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as w:
                w.write_table(table)
            bodies["Arrow IPC"][2].append(sink.getvalue().to_pybytes())

    t = time.perf_counter()
    subprocess.run([binary, "drift", str(ref), str(cur), "--format", "json"], capture_output=True)
    file_check = time.perf_counter() - t
    parquet_bytes = cur.stat().st_size

    features = ", ".join(
        [f'{{ name = "num_{i}", kind = "numeric" }}' for i in range(10)]
        + [f'{{ name = "cat_{i}", kind = "categorical" }}' for i in range(5)]
    )
    print(f"{rows:,} rows in {len(batches)} batches; file check `mlops-mcp drift ref.parquet cur.parquet`: {file_check:.2f} s\n")
    print("| body | sent MB | ingest s | rows/s | MB/s | vs file check | check_drift last=2h s | vs file check | peak RSS MiB | store bytes/row | vs Parquet |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
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
        server, base = start(binary, config)
        headers = {"authorization": f"Bearer {token}", "content-type": ctype}
        if encoding:
            headers["content-encoding"] = encoding
        t = time.perf_counter()
        for p in payloads:
            status, body = post(f"{base}/v1/models/bench/records", p, headers)
            assert status == 200, body
        ingest = time.perf_counter() - t
        server.terminate()
        server.wait()
        server, base = start(binary, config)
        window = check(base, token, {"model": "bench", "last": "2h"})
        rss = peak_rss_mib(server.pid)
        server.terminate()
        server.wait()
        # The database (with its WAL) and the block directory beside it.
        stored = sum(f.stat().st_size for f in ws.glob("store.db*") if f.is_file())
        stored += sum(f.stat().st_size for f in ws.glob("store.db.blocks/*"))
        sent = sum(len(p) for p in payloads)
        print(f"| {name} | {sent / 1e6:.1f} | {ingest:.1f} | {rows / ingest:,.0f} | {sent / 1e6 / ingest:.0f} | "
              f"{ingest / file_check:.1f}x | {window:.2f} | {window / file_check:.1f}x | {rss:.0f} | "
              f"{stored / rows:.0f} | {stored / parquet_bytes:.1f}x |")

    s3 = os.environ.get("MLOPS_BENCH_S3")
    if s3:
        bucket = f"bench-{os.getpid()}"
        urllib.request.urlopen(urllib.request.Request(f"{s3}/{bucket}", method="PUT"))
        day = now.strftime("%Y-%m-%d")
        parts = [frame.iloc[i:i + rows // 10] for i in range(0, rows, rows // 10)]
        for i, part in enumerate(parts):
            buf = io.BytesIO()
            part.drop(columns=["timestamp"]).to_parquet(buf, index=False)
            key = f"cur/dt={day}/part-{i}.parquet"
            # A typed body: moto reads an untyped one (urllib's default, a form) as form fields.
            urllib.request.urlopen(urllib.request.Request(
                f"{s3}/{bucket}/{key}", data=buf.getvalue(), method="PUT",
                headers={"content-type": "application/octet-stream"}))
        ws = work / "s3"
        ws.mkdir(exist_ok=True)
        config = ws / "mlops-mcp.toml"
        config.write_text(CONFIG.format(db=ws / "store.db", secret="b" * 64, ref=ref,
                                        cur=f"s3://{bucket}/cur/", features=features))
        token = subprocess.run(
            [binary, "--config", str(config), "token", "issue", "--sub", "bench", "--scopes", "all"],
            check=True, capture_output=True, text=True).stdout.strip()
        env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
               "AWS_ENDPOINT": s3, "AWS_ALLOW_HTTP": "true"}
        server, base = start(binary, config, env)
        took = check(base, token, {"model": "bench", "last": "1d"})
        rss = peak_rss_mib(server.pid)
        server.terminate()
        server.wait()
        print(f"\nThe same current rows as a dataset of {len(parts)} Parquet files under `s3://{bucket}/cur/dt={day}/` "
              f"on moto ({s3}): `check_drift last=1d` {took:.2f} s, {took / file_check:.1f}x the file check, "
              f"peak RSS {rss:.0f} MiB.")


if __name__ == "__main__":
    main()
