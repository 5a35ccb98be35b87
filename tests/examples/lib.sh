# Sourced by the example checks: a fresh demo workspace served over HTTP on a free port.
# start_demo BIN sets: work (temp dir), config, url (…/mcp), agent (a token with the agent
# scopes). Everything started is stopped, and the temp dir removed, on exit.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_line FILE REGEX SECONDS: returns once a line of FILE (which may still be growing) matches
# REGEX; fails after SECONDS. `tail -F` follows the file's writes; nothing sleeps in between.
wait_line() {
  timeout "$3" bash -c 'grep -m1 -q -E -- "$2" <(tail -n +1 -F --pid=$$ "$1" 2> /dev/null)' \
    _ "$1" "$2"
}

start_demo() {
  local bin=$1
  "$bin" demo --no-serve --dir "$work/ws" > "$work/demo.out" 2>&1
  config="$work/ws/mlops-mcp.toml"
  "$bin" --config "$config" serve --http 127.0.0.1:0 2> "$work/server.log" &
  pids+=($!)
  wait_line "$work/server.log" '^listening on' 30 || {
    echo "the demo server did not start"
    cat "$work/server.log"
    exit 1
  }
  url=$(sed -n 's#^listening on \(http://[^ ]*\)$#\1#p' "$work/server.log")
  agent=$("$bin" --config "$config" token issue --sub demo-agent --scopes agent)
}
