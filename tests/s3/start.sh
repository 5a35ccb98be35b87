#!/usr/bin/env bash
# Starts moto's server mode (an S3-compatible server, what the object_store crate itself tests
# against) on 127.0.0.1 in its own process group, waits until it answers, and prints the
# environment tests/e2e/datasets.rs needs. Its request recorder writes to DATA_DIR/recording.
# Usage: tests/s3/start.sh VENV DATA_DIR [PORT]
# Stop it with: kill -- -$(cat "$DATA_DIR/server.pgid")
set -euo pipefail
venv=$(cd "$1" && pwd)
mkdir -p "$2"
data=$(cd "$2" && pwd)
port=${3:-5056}
cd "$data"
export MOTO_RECORDER_FILEPATH="$data/recording"
setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$data/server.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$data/server.pgid"
for _ in $(seq 1 60); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=2)" 2> /dev/null; then
    echo "MLOPS_TEST_S3=http://127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$pid" 2> /dev/null; then
    echo "moto_server exited; see $data/server.log" >&2
    tail -30 "$data/server.log" >&2
    exit 1
  fi
  sleep 1
done
echo "moto_server did not answer in 60 s; see $data/server.log" >&2
exit 1
