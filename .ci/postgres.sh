#!/usr/bin/env bash
# A throwaway PostgreSQL cluster from Debian's packages, for tests.
#   .ci/postgres.sh start DIR PORT   prints the URL of database "test"
#   .ci/postgres.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups); fi
case "$cmd" in
  start)
    port=$3
    mkdir -p "$dir"
    if [ ${#as_pg[@]} -gt 0 ]; then
      chown postgres:postgres "$dir"
      # initdb runs as postgres, which must be able to reach the folder.
      parent=$(dirname "$dir")
      [ -x "$parent" ] && setpriv --reuid=postgres --regid=postgres --init-groups test -x "$dir" \
        || { echo "postgres.sh: the postgres user cannot reach $dir; make its parent folders searchable" >&2; exit 1; }
    fi
    "${as_pg[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -N >"$dir/initdb.log" 2>&1
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    "${as_pg[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres test
    echo "postgres://postgres@127.0.0.1:$port/test"
    ;;
  stop)
    "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
esac
