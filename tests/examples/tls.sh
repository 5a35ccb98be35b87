#!/usr/bin/env bash
# examples/tls/haproxy.cfg in front of a demo server, with a self-signed certificate for
# mlops.example.com (resolved to 127.0.0.1 by curl): the protected-resource metadata and the
# 401 challenge name the public https URL, and a tool call through the proxy succeeds.
#   tests/examples/tls.sh BIN
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$root/tests/examples/lib.sh"
host=mlops.example.com
port=18443
public="https://$host:$port"

"$bin" demo --no-serve --no-traffic --dir "$work/ws" > "$work/demo.out" 2>&1
config="$work/ws/mlops-mcp.toml"
# The server's public URL and host name, as docs/connecting.md#behind-tls says.
sed -i "s#^\[auth\]\$#[auth]\nresource = \"$public/mcp\"\naudience = \"$public/mcp\"#" "$config"
sed -i "s#^\[http\]\$#[http]\nallowed_hosts = [\"$host\"]#" "$config"
"$bin" --config "$config" check-config > /dev/null
"$bin" --config "$config" serve --http 127.0.0.1:0 2> "$work/server.log" &
pids+=($!)
wait_line "$work/server.log" '^listening on' 30 || { cat "$work/server.log"; exit 1; }
addr=$(sed -n 's#^listening on http://\([^/]*\)/mcp$#\1#p' "$work/server.log")

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host" -keyout "$work/key.pem" -out "$work/cert.pem" 2> /dev/null
cat "$work/cert.pem" "$work/key.pem" > "$work/mlops.pem"
export TLS_BIND="127.0.0.1:$port" TLS_PEM="$work/mlops.pem" MLOPS_ADDR="$addr"
haproxy -c -q -f "$root/examples/tls/haproxy.cfg"
haproxy -D -p "$work/haproxy.pid" -f "$root/examples/tls/haproxy.cfg"
pids+=("$(cat "$work/haproxy.pid")")
https() { curl -sS --resolve "$host:$port:127.0.0.1" --cacert "$work/cert.pem" "$@"; }

metadata=$(https "$public/.well-known/oauth-protected-resource/mcp")
echo "metadata: $metadata"
grep -q "\"resource\":\"$public/mcp\"" <<< "$metadata"

challenge=$(https -o /dev/null -w '%{http_code} %header{www-authenticate}' -X POST "$public/mcp" \
  -H 'content-type: application/json' -d '{}')
echo "challenge: $challenge"
grep -q "^401 Bearer resource_metadata=\"$public/.well-known/oauth-protected-resource/mcp\"" <<< "$challenge"

agent=$("$bin" --config "$config" token issue --sub tls-agent --scopes agent)
answer=$(https "$public/mcp" -H "Authorization: Bearer $agent" -H 'content-type: application/json' \
  -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-11-25' \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_models","arguments":{}}}')
grep -q '"name":"fraud-detector"' <<< "$answer" || { echo "$answer"; exit 1; }
echo "tls: metadata, challenge and a tool call through HAProxy at $public"
