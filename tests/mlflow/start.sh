#!/usr/bin/env bash
# Starts `mlflow server` 3.17.2 on 127.0.0.1 with its basic-auth app (SQLite backend, artifacts
# proxied by the server) in its own process group, waits until it answers, and prints the
# environment tests/mlflow.rs needs (the URL and the admin's credentials, under MLflow's own
# client variable names). Usage: tests/mlflow/start.sh VENV DATA_DIR [PORT]
# Stop it with: kill -- -$(cat "$DATA_DIR/server.pgid")
set -euo pipefail
venv=$(cd "$1" && pwd)
mkdir -p "$2"
data=$(cd "$2" && pwd)
port=${3:-5055}
password="mlflow-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
cd "$data"
export MLFLOW_AUTH_ADMIN_PASSWORD=$password
export MLFLOW_FLASK_SERVER_SECRET_KEY="secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
setsid "$venv/bin/mlflow" server --app-name basic-auth \
  --backend-store-uri "sqlite:///$data/mlflow.db" --artifacts-destination "$data/artifacts" \
  --host 127.0.0.1 --port "$port" --workers 1 > "$data/server.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$data/server.pgid"
for _ in $(seq 1 120); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=2)" 2> /dev/null; then
    echo "MLOPS_TEST_MLFLOW_URL=http://127.0.0.1:$port"
    echo "MLFLOW_TRACKING_USERNAME=admin"
    echo "MLFLOW_TRACKING_PASSWORD=$password"
    exit 0
  fi
  if ! kill -0 "$pid" 2> /dev/null; then
    echo "mlflow server exited; see $data/server.log" >&2
    tail -30 "$data/server.log" >&2
    exit 1
  fi
  sleep 1
done
echo "mlflow did not answer in 120 s; see $data/server.log" >&2
exit 1
