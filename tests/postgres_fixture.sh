#!/usr/bin/env bash
# The PostgreSQL server that the tests of one ctest run share (each test makes its own database on
# it): `postgres_fixture.sh start DIR PORT` runs initdb in DIR and starts the server on
# 127.0.0.1:PORT; `stop DIR` stops it and removes DIR. As root the server runs as `postgres`.
set -euo pipefail
cmd="$1"; dir="$2"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$bin" ]; then
  echo "postgres_fixture: no PostgreSQL server installed (/usr/lib/postgresql/*/bin): run scripts/install-deps.sh" >&2
  exit 1
fi
as=()
[ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
case "$cmd" in
  start)
    port="$3"
    if [ -f "$dir/data/postmaster.pid" ]; then "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"; mkdir -p "$dir"; chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -t 30 -l "$dir/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres_fixture: PostgreSQL in $dir on 127.0.0.1:$port"
    ;;
  stop)
    if [ -d "$dir/data" ]; then "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
