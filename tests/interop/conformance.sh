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
source "$here/../examples/lib.sh"
start_demo "$BIN"
port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\)/mcp#\1#p' "$work/server.log")
python3 -u "$here/auth_proxy.py" 0 "$port" "$agent" > "$work/proxy.log" 2>&1 &
pids+=($!)
wait_line "$work/proxy.log" '^proxy ready' 30 || true
proxy=$(sed -n 's/^proxy ready on \([0-9]*\)/\1/p' "$work/proxy.log")
[ -n "$proxy" ] || { echo "proxy did not start"; cat "$work/proxy.log"; exit 1; }

for s in "${SCENARIOS[@]}"; do
  # The suite exits non-zero for the fixture-only checks; check_conformance.py judges.
  "$NODE" "$CONFORMANCE" server --url "http://127.0.0.1:$proxy/mcp" --scenario "$s" \
    -o "$work/results" > "$work/$s.log" 2>&1 || true
done
python3 "$here/check_conformance.py" "$work/results" "${SCENARIOS[@]}"
