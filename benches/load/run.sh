#!/usr/bin/env bash
# Load benchmark (BENCHMARKS.md, "Tool calls under load"): streamable-HTTP tool-call throughput
# and p50/p99 latency at 1, 16 and 64 concurrent connections, driven by wrk (Debian's `wrk`, the
# same load generator for every server, script post.lua), against
#   - mlops-mcp (a fresh demo; auth and rate limiting on, quotas raised for the run):
#     `list_models`, and `check_drift` on the demo's small dataset (reference profile cached);
#   - the official Python SDK (`mcp` 2.3.0 MCPServer, stateless, JSON responses) and
#   - the official TypeScript SDK (`@modelcontextprotocol/sdk` 1.32.2, stateless, JSON responses),
#     both serving `list_models` with the bytes mlops-mcp's own returned.
# Every server runs on 127.0.0.1 on this machine, one at a time under load.
#
# Usage: benches/load/run.sh BIN PYTHON NODE [SECONDS]
#   BIN: a release build of mlops-mcp; PYTHON: a python with benches/load/requirements.txt;
#   NODE: Node >= 22 (with `npm ci` done in benches/load).
set -euo pipefail
BIN=$1 PY=$2 NODE=$3 SECS=${4:-10}
here=$(cd "$(dirname "$0")" && pwd)
export MLOPS_MCP_LIMITS__READ_PER_MINUTE=1000000000 MLOPS_MCP_LIMITS__READ_BURST=1000000
export MLOPS_MCP_LIMITS__HIGH_PRIVILEGE_PER_MINUTE=1000000000 MLOPS_MCP_LIMITS__HIGH_PRIVILEGE_BURST=1000000
export MLOPS_MCP_LIMITS__PER_ADDRESS_PER_MINUTE=1000000000 MLOPS_MCP_LIMITS__PER_ADDRESS_BURST=1000000
export MLOPS_MCP_LOG=warn
source "$here/../../tests/examples/lib.sh"
start_demo "$BIN"

call() { # TOOL ARGS_JSON
  printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s}}' "$1" "$2"
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The payload the SDK servers return: mlops-mcp's own list_models result.
curl -sf "$url" -H "Authorization: Bearer $agent" -H 'content-type: application/json' \
  -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25' \
  -d "$(call list_models '{}')" |
  "$PY" -c 'import json,sys; t=sys.stdin.read(); t=t[t.index("{"):]; print(json.dumps(json.loads(t)["result"]["structuredContent"]))' \
  > "$work/payload.json"

pport=$(free_port)
"$PY" "$here/python_server.py" "$pport" "$work/payload.json" > "$work/python.log" 2>&1 &
pids+=($!)
wait_line "$work/python.log" 'Uvicorn running' 60 || { cat "$work/python.log"; exit 1; }
tport=$(free_port)
(cd "$here" && "$NODE" ts_server.mjs "$tport" "$work/payload.json") > "$work/ts.log" 2>&1 &
pids+=($!)
wait_line "$work/ts.log" '^listening' 60 || { cat "$work/ts.log"; exit 1; }

load() { # LABEL TOOL ARGS URL TOKEN CONNECTIONS SECONDS
  local threads=2
  [ "$6" -ge 2 ] || threads=1
  MCP_BODY=$(call "$2" "$3") MCP_TOKEN=$5 wrk -t"$threads" -c"$6" -d"$7"s --latency \
    -s "$here/post.lua" "$4" > "$work/wrk.out" 2>&1
  local r
  r=$(grep '^RESULT' "$work/wrk.out") || { cat "$work/wrk.out"; exit 1; }
  "$PY" - "$1" "$2" "$6" "$r" << 'PY'
import sys
label, tool, conns, line = sys.argv[1:5]
f = dict(kv.split("=") for kv in line.split()[1:])
n, us = int(f["requests"]), int(f["duration_us"])
failed = int(f["bad"]) + int(f["socket_errors"])
print(f"| {label} | `{tool}` | {conns} | {n / (us / 1e6):,.0f} | {int(f['p50_us']) / 1000:.2f} | "
      f"{int(f['p99_us']) / 1000:.2f} | {n:,} | {failed} |")
PY
}

echo "| server | tool | connections | calls/s | p50 ms | p99 ms | calls | failed |"
echo "|---|---|---|---|---|---|---|---|"
targets=(
  "mlops-mcp|list_models|{}|$url|$agent"
  "mlops-mcp|check_drift|{\"model\":\"fraud-detector\"}|$url|$agent"
  "Python SDK|list_models|{}|http://127.0.0.1:$pport/mcp|"
  "TypeScript SDK|list_models|{}|http://127.0.0.1:$tport/mcp|"
)
for t in "${targets[@]}"; do
  IFS='|' read -r label tool args turl ttoken <<< "$t"
  # Warm-up (caches, JIT), not reported.
  load "$label" "$tool" "$args" "$turl" "$ttoken" 16 2 > /dev/null
  for c in 1 16 64; do
    load "$label" "$tool" "$args" "$turl" "$ttoken" "$c" "$SECS"
  done
done
