#!/usr/bin/env bash
# The MCP Inspector's CLI (--cli, modern protocol era) against a fresh demo, over stdio and over
# streamable HTTP: tools/list (with --strict: no error-severity schema portability problem),
# tools/call check_drift and resources/read of the model card, checked on the JSON it prints.
# Usage: tests/examples/inspector.sh BIN NODE INSPECTOR_CLI_JS
set -euo pipefail
BIN=$1 NODE=$2 INSPECTOR=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
start_demo "$BIN"

inspect() { # TRANSPORT OUT_FILE INSPECTOR_ARGS...
  local transport=$1 out=$2
  shift 2
  local target=()
  if [ "$transport" = stdio ]; then
    target=(-e "MLOPS_MCP_TOKEN=$agent" -- "$BIN" --config "$config" serve)
  else
    target=(--header "Authorization: Bearer $agent" -- "$url")
  fi
  (cd "$work" && timeout 120 "$NODE" "$INSPECTOR" --cli --protocol-era modern --format json \
    "$@" "${target[@]}") > "$out" 2> "$out.err" || {
    echo "inspector ($transport $*) failed:"
    cat "$out" "$out.err"
    exit 1
  }
}

for transport in stdio http; do
  inspect "$transport" "$work/list.json" --method tools/list --strict
  inspect "$transport" "$work/call.json" --method tools/call --tool-name check_drift \
    --tool-arg model=fraud-detector
  inspect "$transport" "$work/card.json" --method resources/read \
    --uri mlops://models/fraud-detector/card
  python3 - "$transport" "$work" << 'PY'
import json, sys
transport, work = sys.argv[1], sys.argv[2]
load = lambda name: json.load(open(f"{work}/{name}.json"))["result"]
names = sorted(t["name"] for t in load("list")["tools"])
assert names == ["check_drift", "check_performance", "get_job", "get_promotion", "get_validation", "list_models",
                 "request_promotion", "trigger_retrain"], names
assert all("outputSchema" in t for t in load("list")["tools"])
call = load("call")
assert not call.get("isError"), call
assert call["structuredContent"]["recommended_action"] == "retrain", call["structuredContent"]
card = load("card")["contents"]
assert card[0]["text"].startswith("# Model card: fraud-detector"), card[0]["text"][:80]
print(f"inspector over {transport}: {len(names)} tools, check_drift says "
      f"{call['structuredContent']['recommended_action']}, model card read")
PY
done
echo "inspector: ok"
