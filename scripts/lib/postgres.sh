# Sourced by the test scripts: a PostgreSQL cluster of the run's own, in a
# temporary directory, listening on 127.0.0.1 only, stopped by its PID.
#
#   start_postgres      starts it (unless PAYWIRE_TEST_POSTGRES is already set)
#                       and exports PAYWIRE_TEST_POSTGRES=postgres://…
#   stop_postgres       stops what start_postgres started
#
# initdb refuses to run as root: as root the cluster runs as the `postgres`
# user (Debian's package creates it). The server is bounded in time.

pg_started_pid=""
pg_dir=""

pg_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

pg_as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  if [ -n "${PAYWIRE_TEST_POSTGRES:-}" ]; then
    return 0
  fi
  local bin port i
  bin=$(pg_bindir) || true
  if [ -z "$bin" ]; then
    echo "postgres: no PostgreSQL server binaries (scripts/install.sh installs them)" >&2
    return 1
  fi
  pg_dir=$(mktemp -d)
  chmod 755 "$pg_dir"
  [ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
  pg_as "$bin/initdb" -D "$pg_dir/data" -A trust -U paywire --no-sync -E UTF8 >"$pg_dir/initdb.log" 2>&1 || {
    cat "$pg_dir/initdb.log" >&2
    return 1
  }
  port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  pg_as timeout 7200 "$bin/postgres" -D "$pg_dir/data" -p "$port" -k "$pg_dir" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c max_connections=200 >"$pg_dir/server.log" 2>&1 &
  for i in $(seq 1 100); do
    if [ -s "$pg_dir/data/postmaster.pid" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      pg_started_pid=$(head -1 "$pg_dir/data/postmaster.pid")
      break
    fi
    sleep 0.2
  done
  if [ -z "$pg_started_pid" ]; then
    echo "postgres: the server did not start" >&2
    cat "$pg_dir/server.log" >&2
    return 1
  fi
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U paywire paywire_test
  export PAYWIRE_TEST_POSTGRES="postgres://paywire@127.0.0.1:$port/paywire_test"
  echo "postgres: $PAYWIRE_TEST_POSTGRES (pid $pg_started_pid)" >&2
}

stop_postgres() {
  if [ -n "$pg_started_pid" ]; then
    kill "$pg_started_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pg_started_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$pg_started_pid" 2>/dev/null || true
    pg_started_pid=""
    unset PAYWIRE_TEST_POSTGRES
  fi
  if [ -n "$pg_dir" ]; then
    rm -rf "$pg_dir"
    pg_dir=""
  fi
}
