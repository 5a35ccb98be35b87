#!/usr/bin/env bash
# Starts `airflow standalone` (Airflow 3) on 127.0.0.1 with this directory's DAGs and a test
# user, in its own process group, and waits until its API is healthy. Prints the environment
# tests/airflow.rs needs. Usage: tests/airflow/start.sh VENV AIRFLOW_HOME [PORT]
# Stop it with: kill -- -$(cat "$AIRFLOW_HOME/standalone.pgid")
set -euo pipefail
venv=$(cd "$1" && pwd)
home=$2
port=${3:-18080}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$home"
export PATH="$venv/bin:$PATH"   # standalone starts `airflow` subcommands by name
export AIRFLOW_HOME=$home
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$here/dags"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=$port
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$port/execution/"
export AIRFLOW__CORE__PARALLELISM=2
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=mlops:admin
echo '{"mlops":"airflow-test-password"}' > "$home/simple_auth_manager_passwords.json.generated"
setsid airflow standalone > "$home/standalone.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$home/standalone.pgid"
for _ in $(seq 1 180); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/api/v2/monitor/health', timeout=2)" 2> /dev/null; then
    echo "MLOPS_TEST_AIRFLOW_URL=http://127.0.0.1:$port"
    echo "MLOPS_TEST_AIRFLOW_USER=mlops"
    echo "MLOPS_TEST_AIRFLOW_PASSWORD=airflow-test-password"
    exit 0
  fi
  if ! kill -0 "$pid" 2> /dev/null; then
    echo "airflow standalone exited; see $home/standalone.log" >&2
    tail -30 "$home/standalone.log" >&2
    exit 1
  fi
  sleep 1
done
echo "airflow did not become healthy in 180 s; see $home/standalone.log" >&2
exit 1
