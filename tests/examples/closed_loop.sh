#!/usr/bin/env bash
# Runs `examples/closed_loop.rs` against a fresh demo server, approves its promotion request on
# the command line as a different person, and checks the loop ends with v2 as champion and the
# trace printed. Usage: tests/examples/closed_loop.sh BIN EXAMPLE
set -euo pipefail
BIN=$1 EXAMPLE=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
start_demo "$BIN"
alice=$("$BIN" --config "$config" token issue --sub alice --scopes promotion:approve,models:read)

MLOPS_MCP_TOKEN=$agent timeout 300 "$EXAMPLE" "$url" > "$work/loop.out" 2>&1 &
loop=$!
pids+=($loop)
wait_line "$work/loop.out" 'approvals approve' 120 || {
  echo "the example did not reach a promotion request"
  cat "$work/loop.out"
  exit 1
}
id=$(grep -o 'approvals approve [0-9a-f-]*' "$work/loop.out" | awk '{print $3}')
MLOPS_MCP_TOKEN=$alice "$BIN" --config "$config" approvals approve "$id" --note "closed_loop check"
wait "$loop"
cat "$work/loop.out"
grep -q '6. get_promotion: "promoted" by "alice"' "$work/loop.out"
grep -q 'promotion.promoted' "$work/loop.out"
echo "closed_loop: the loop ended with the promotion approved and the trace printed"
