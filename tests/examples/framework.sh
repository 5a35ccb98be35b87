#!/usr/bin/env bash
# Runs one framework example against a freshly started demo server, then checks what came back
# (tests/examples/check_result.py) and, where the example changed state, that the server agrees.
# Usage: tests/examples/framework.sh BIN NAME COMMAND [ARGS...]
# In ARGS, {url}, {config} and {bin} are replaced by the demo's MCP URL, config file and BIN.
set -euo pipefail
BIN=$1 NAME=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
start_demo "$BIN"

cmd=()
for a in "$@"; do
  a=${a//\{url\}/$url}
  a=${a//\{config\}/$config}
  cmd+=("${a//\{bin\}/$BIN}")
done
MLOPS_MCP_TOKEN=$agent timeout 600 "${cmd[@]}" > "$work/out.txt" 2> "$work/err.txt" || {
  echo "$NAME: the example failed"
  cat "$work/out.txt" "$work/err.txt"
  exit 1
}
cat "$work/out.txt"
python3 "$here/check_result.py" "$NAME" "$work/out.txt" > "$work/ids.txt"

# What the example reports must be what the server stored.
case $NAME in
  langgraph)
    alice=$("$BIN" --config "$config" token issue --sub alice --scopes promotion:approve,models:read)
    id=$(sed -n 's/^promotion_id=//p' "$work/ids.txt")
    MLOPS_MCP_TOKEN=$alice "$BIN" --config "$config" approvals show "$id" > "$work/show.txt"
    grep -q 'pending_approval' "$work/show.txt" || { cat "$work/show.txt"; exit 1; }
    ;;
  crewai)
    id=$(sed -n 's/^job_id=//p' "$work/ids.txt")
    "$BIN" --config "$config" jobs show "$id" > "$work/show.txt"
    grep -q 'fraud-detector' "$work/show.txt" || { cat "$work/show.txt"; exit 1; }
    ;;
esac
echo "$NAME: ok"
