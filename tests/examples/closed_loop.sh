#!/usr/bin/env bash
# Runs `examples/closed_loop.rs` against a fresh demo server, approves its promotion request on
# the command line as a different person, and checks the loop ends with v2 as champion and the
# trace printed. Usage: tests/examples/closed_loop.sh BIN EXAMPLE
set -euo pipefail
BIN=$1 EXAMPLE=$2
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$BIN" demo --no-serve --dir "$work/ws" > "$work/demo.out" 2>&1
config="$work/ws/mlops-mcp.toml"
"$BIN" --config "$config" serve --http 127.0.0.1:0 2> "$work/server.log" &
pids+=($!)
for _ in $(seq 300); do grep -q '^listening on' "$work/server.log" && break; sleep 0.1; done
url=$(sed -n 's#^listening on \(http://[^ ]*\)$#\1#p' "$work/server.log")
[ -n "$url" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
agent=$("$BIN" --config "$config" token issue --sub demo-agent --scopes agent)
alice=$("$BIN" --config "$config" token issue --sub alice --scopes promotion:approve,models:read)

MLOPS_MCP_TOKEN=$agent timeout 300 "$EXAMPLE" "$url" > "$work/loop.out" 2>&1 &
loop=$!
pids+=($loop)
for _ in $(seq 1200); do grep -q 'approvals approve' "$work/loop.out" && break; sleep 0.1; done
id=$(grep -o 'approvals approve [0-9a-f-]*' "$work/loop.out" | awk '{print $3}')
[ -n "$id" ] || { echo "the example did not reach a promotion request"; cat "$work/loop.out"; exit 1; }
MLOPS_MCP_TOKEN=$alice "$BIN" --config "$config" approvals approve "$id" --note "closed_loop check"
wait "$loop"
cat "$work/loop.out"
grep -q '6. get_promotion: "promoted" by "alice"' "$work/loop.out"
grep -q 'promotion.promoted' "$work/loop.out"
echo "closed_loop: the loop ended with the promotion approved and the trace printed"
