#!/usr/bin/env bash
# examples/replicas/haproxy.cfg in front of two replicas on one PostgreSQL database, driven by
# the official Python SDK:
#   tests/examples/load_balancer.sh BIN PYTHON
# Needs MLOPS_TEST_POSTGRES (tests/postgres/start.sh) and haproxy. Checks that calls through the
# balancer succeed, that both replicas served some, and that calls keep succeeding after one
# replica is killed.
set -euo pipefail
bin=$1
python=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/examples/lib.sh"
: "${MLOPS_TEST_POSTGRES:?MLOPS_TEST_POSTGRES is not set (.ci/run starts PostgreSQL)}"

db="lb_example_$$"
psql -q "$MLOPS_TEST_POSTGRES" -c "CREATE DATABASE $db"
export MLOPS_MCP_STORE__URL="${MLOPS_TEST_POSTGRES%/*}/$db"
# The demo's files and config; run again with the store URL set, it registers v1 in PostgreSQL.
"$bin" demo --no-serve --dir "$work/ws" > "$work/demo.out" 2>&1
"$bin" demo --no-serve --dir "$work/ws" >> "$work/demo.out" 2>&1
config="$work/ws/mlops-mcp.toml"
agent=$("$bin" --config "$config" token issue --sub lb-agent --scopes agent)
scraper=$("$bin" --config "$config" token issue --sub lb-scraper --scopes metrics:read)

declare -A replica_pid
for port in 8081 8082; do
  MLOPS_MCP_LOG=warn "$bin" --config "$config" serve --http "127.0.0.1:$port" 2> "$work/replica-$port.log" &
  replica_pid[$port]=$!
  pids+=($!)
  wait_line "$work/replica-$port.log" '^listening on' 30 || { cat "$work/replica-$port.log"; exit 1; }
done
# In daemon mode haproxy returns once its listener is bound.
haproxy -c -q -f "$root/examples/replicas/haproxy.cfg"
haproxy -D -p "$work/haproxy.pid" -f "$root/examples/replicas/haproxy.cfg"
pids+=("$(cat "$work/haproxy.pid")")
curl -fsS http://127.0.0.1:8080/readyz > /dev/null

"$python" "$root/tests/examples/lb_client.py" http://127.0.0.1:8080/mcp "$agent" 20

served() {
  curl -fsS -H "Authorization: Bearer $scraper" "http://127.0.0.1:$1/metrics" |
    sed -n 's/^mlops_tool_calls_total{tool="list_models",outcome="ok"} \([0-9]*\)$/\1/p'
}
a=$(served 8081)
b=$(served 8082)
echo "replica 8081 served ${a:-0} list_models calls, replica 8082 ${b:-0}"
[ "${a:-0}" -gt 0 ] && [ "${b:-0}" -gt 0 ] || { echo "the balancer did not spread the calls"; exit 1; }

# One replica dies: calls keep succeeding through the other.
kill -9 "${replica_pid[8082]}"
"$python" "$root/tests/examples/lb_client.py" http://127.0.0.1:8080/mcp "$agent" 20
echo "load balancer example: ok"
