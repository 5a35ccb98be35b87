#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster (Debian's postgresql binaries) on loopback for the tests:
#   tests/postgres/start.sh DATA_DIR PORT
# prints MLOPS_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres when it accepts
# connections. Trust authentication on 127.0.0.1 only; stop it with
#   pg_ctl -D DATA_DIR stop   (as the user that owns DATA_DIR).
set -euo pipefail
data=$1
port=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
mkdir -p "$data"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$data"
  # The postgres user must reach DATA_DIR through its parent (mktemp -d makes it 0700).
  chmod o+x "$(dirname "$data")"
fi
if [ ! -f "$data/PG_VERSION" ]; then
  as_owner "$bin/initdb" -D "$data" -U postgres -A trust --no-sync > "$data.initdb.log"
fi
as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c max_connections=400" > /dev/null
"$bin/pg_isready" -h 127.0.0.1 -p "$port" -t 30 > /dev/null
echo "MLOPS_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
