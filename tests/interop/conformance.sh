#!/usr/bin/env bash
# Runs the MCP conformance suite's server scenarios against the real mlops-mcp HTTP server.
# The suite cannot send a bearer token, so it talks to the server through auth_proxy.py, which
# adds one and forwards everything else unchanged.
#
# Usage: tests/interop/conformance.sh BIN NODE CONFORMANCE_JS SCENARIO...
set -euo pipefail
BIN=$1 NODE=$2 CONFORMANCE=$3
shift 3
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || { echo "name at least one scenario"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$BIN" demo --no-serve --dir "$work/ws" > /dev/null 2>&1
"$BIN" --config "$work/ws/mlops-mcp.toml" serve --http 127.0.0.1:0 2> "$work/server.log" &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening on' "$work/server.log" && break; sleep 0.1; done
port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\)/mcp#\1#p' "$work/server.log")
[ -n "$port" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
token=$("$BIN" --config "$work/ws/mlops-mcp.toml" token issue --sub conformance --scopes agent)

python3 -u "$here/auth_proxy.py" 0 "$port" "$token" > "$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^proxy ready' "$work/proxy.log" && break; sleep 0.1; done
proxy=$(sed -n 's/^proxy ready on \([0-9]*\)/\1/p' "$work/proxy.log")
[ -n "$proxy" ] || { echo "proxy did not start"; cat "$work/proxy.log"; exit 1; }

for s in "${SCENARIOS[@]}"; do
  # The suite exits non-zero for the fixture-only checks; check_conformance.py judges.
  "$NODE" "$CONFORMANCE" server --url "http://127.0.0.1:$proxy/mcp" --scenario "$s" \
    -o "$work/results" > "$work/$s.log" 2>&1 || true
done
python3 "$here/check_conformance.py" "$work/results" "${SCENARIOS[@]}"
