"""Fleet figures for BENCHMARKS.md: start-up and idle memory with N declared models, list_models
pages (bytes and latency), and a monitor sweep of M models over the demo's data (wall time, CPU
time and peak memory of the server).

    python3 benches/fleet/fleet.py target/release/mlops-mcp [--models 1000] [--monitored 500]

Talks to 127.0.0.1 only; prints one line per figure.
"""

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def proc_figures(pid):
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) // 1024
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    return rss, peak, cpu


def workspace(binary, tmp, models, monitored):
    subprocess.run([binary, "demo", "--no-serve", "--no-traffic", "--dir", tmp], check=True, capture_output=True)
    config = os.path.join(tmp, "mlops-mcp.toml")
    head, rest = open(config).read().split("[[models]]", 1)
    defaults = (
        '\n[model_defaults]\nowner = "payments-risk"\n'
        'reference_data = "data/fraud-detector/reference.csv"\n'
        'current_data = "data/fraud-detector/current.csv"\n'
        'policy = { drift_share = 0.5 }\n'
    )
    fleet = ""
    for i in range(1, models):
        fleet += f'\n[[models]]\nname = "fleet-{i:04}"\n'
        if i <= monitored:
            fleet += 'monitor = { every = "1h" }\n'
    open(config, "w").write(head + defaults + "\n[[models]]" + rest + fleet)
    return config


def serve(binary, config):
    started = time.monotonic()
    proc = subprocess.Popen(
        [binary, "--config", config, "serve", "--http", "127.0.0.1:0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        # The benchmark's own calls would pass the default per-principal read quota.
        env={**os.environ, "MLOPS_MCP_LOG": "warn",
             "MLOPS_MCP_LIMITS__READ_PER_MINUTE": "100000", "MLOPS_MCP_LIMITS__READ_BURST": "10000",
             "MLOPS_MCP_LIMITS__PER_ADDRESS_PER_MINUTE": "100000",
             "MLOPS_MCP_LIMITS__PER_ADDRESS_BURST": "10000"},
    )
    for line in proc.stderr:
        m = re.match(r"listening on (http://\S+)", line)
        if m:
            return proc, m.group(1), time.monotonic() - started
    raise SystemExit("server did not start")


def call(url, token, args):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "list_models", "arguments": args}}).encode()
    req = urllib.request.Request(url, body, {
        "content-type": "application/json", "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {token}", "mcp-protocol-version": "2025-06-18"})
    t = time.perf_counter()
    with urllib.request.urlopen(req) as r:
        data = json.loads(r.read())
    return data["result"]["structuredContent"], time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--monitored", type=int, default=500)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # 1. Start-up and idle memory, no monitors.
        config = workspace(a.binary, tmp, a.models, 0)
        proc, url, ready = serve(a.binary, config)
        time.sleep(2)
        rss, _, _ = proc_figures(proc.pid)
        print(f"start-up with {a.models} models: ready in {ready:.2f} s, idle RSS {rss} MiB")
        token = subprocess.run([a.binary, "--config", config, "token", "issue", "--sub", "bench",
                                "--scopes", "agent"], check=True, capture_output=True,
                               text=True).stdout.strip()
        sizes, times, cursor, pages = [], [], None, 0
        while True:
            args = {"page_size": 100}
            if cursor:
                args["cursor"] = cursor
            page, took = call(url, token, args)
            sizes.append(len(json.dumps(page, separators=(",", ":"))))
            times.append(took)
            pages += 1
            cursor = page.get("next_cursor")
            if not cursor:
                break
        for _ in range(50):
            _, took = call(url, token, {})
            times.append(took)
        print(f"list_models at {a.models} models: {pages} pages of page_size 100, "
              f"largest {max(sizes)} bytes; p50 {statistics.median(times) * 1000:.2f} ms, "
              f"max {max(times) * 1000:.2f} ms over {len(times)} calls")
        proc.terminate()
        proc.wait()
    with tempfile.TemporaryDirectory() as tmp:
        # 2. A sweep: every monitored model's first slot is due at start.
        config = workspace(a.binary, tmp, a.models, a.monitored)
        proc, url, _ = serve(a.binary, config)
        db = sqlite3.connect(os.path.join(tmp, "mlops-mcp.db"))
        started = time.monotonic()
        done = 0
        while time.monotonic() - started < 600:
            done = db.execute("SELECT count(*) FROM monitor_runs WHERE outcome IS NOT NULL").fetchone()[0]
            if done >= a.monitored:
                break
            time.sleep(0.2)
        wall = time.monotonic() - started
        rss, peak, cpu = proc_figures(proc.pid)
        failed = db.execute("SELECT count(*) FROM monitor_runs WHERE outcome = 'failed'").fetchone()[0]
        print(f"monitor sweep of {done} models ({failed} failed): {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU, peak RSS {peak} MiB, RSS after {rss} MiB")
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
