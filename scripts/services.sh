#!/usr/bin/env bash
# Make PostgreSQL (with PostGIS and ltree) and Redis reachable for tests and the demo.
#
#   scripts/services.sh start   idempotent; prints the URLs it settled on
#   scripts/services.sh stop    stops only the private instances this script started
#
# If VCK_DATABASE_URL / VCK_REDIS_URL are set and reachable they are used as they are.
# Otherwise private instances run under .services/ on their own ports (PostgreSQL 55432,
# Redis 56379), leaving any server on the standard ports alone. On Debian as root the
# missing packages are installed with apt-get.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.services"
pg_port=${VCK_PG_PORT:-55432}
redis_port=${VCK_REDIS_PORT:-56379}
default_db_url="postgresql+asyncpg://vck@127.0.0.1:${pg_port}/vck"
default_redis_url="redis://127.0.0.1:${redis_port}/0"

log() { printf 'services: %s\n' "$*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "missing: $* — install them (Debian: apt-get install $*) or set VCK_DATABASE_URL/VCK_REDIS_URL"
    exit 1
  fi
  log "installing $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }
pg_major() { basename "$(dirname "$(pg_bindir)")"; }

psql_url() { printf '%s' "${1/postgresql+asyncpg:/postgresql:}"; }

pg_reachable() { psql "$(psql_url "$1")" -Atqc 'select 1' >/dev/null 2>&1; }

redis_reachable() {
  local hostport=${1#redis://}; hostport=${hostport%%/*}; hostport=${hostport##*@}
  redis-cli -h "${hostport%:*}" -p "${hostport##*:}" ping 2>/dev/null | grep -q PONG
}

ensure_pg_packages() {
  [ -n "$(pg_bindir)" ] || apt_install postgresql postgresql-contrib
  local major; major=$(pg_major)
  if [ ! -f "/usr/share/postgresql/$major/extension/postgis.control" ] \
     || ! ls /usr/lib/postgresql/"$major"/lib/postgis-3*.so >/dev/null 2>&1; then
    apt_install "postgresql-$major-postgis-3" "postgresql-$major-postgis-3-scripts"
  fi
}

pg_datadir() {
  # The postgres user must reach the data directory; fall back when the checkout is
  # somewhere it cannot traverse.
  if runuser -u postgres -- test -x "$root" 2>/dev/null; then
    echo "$state/pg"
  else
    echo "/var/lib/vck-connect/$(printf '%s' "$root" | sha1sum | cut -c1-12)/pg"
  fi
}

start_pg() {
  ensure_pg_packages
  local bin data run
  bin=$(pg_bindir); data=$(pg_datadir); run="$(dirname "$data")/pg-run"
  mkdir -p "$data" "$run"
  chown postgres:postgres "$data" "$run"; chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initdb in $data"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >/dev/null
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$run'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
CONF
  fi
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$run/postgres.log" -w start >/dev/null
  fi
  local su="postgresql://postgres@127.0.0.1:$pg_port/postgres"
  psql "$su" -Atqc "select 1 from pg_roles where rolname='vck'" | grep -q 1 \
    || psql "$su" -qc "create role vck login superuser"
  for db in vck vck_test; do
    psql "$su" -Atqc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || psql "$su" -qc "create database $db owner vck"
  done
}

stop_pg() {
  local bin data; bin=$(pg_bindir); data=$(pg_datadir)
  [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || return 0
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$state"
  redis_reachable "$default_redis_url" && return 0
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" \
    --appendonly no --dir "$state" --pidfile "$state/redis.pid" --logfile "$state/redis.log"
  for _ in $(seq 50); do redis_reachable "$default_redis_url" && return 0; sleep 0.1; done
  log "redis did not start; see $state/redis.log"; exit 1
}

stop_redis() {
  [ -f "$state/redis.pid" ] && kill "$(cat "$state/redis.pid")" 2>/dev/null || true
  rm -f "$state/redis.pid"
}

case "${1:-start}" in
  start)
    command -v psql >/dev/null || apt_install postgresql-client
    command -v redis-cli >/dev/null || apt_install redis-tools
    if [ -n "${VCK_DATABASE_URL:-}" ] && pg_reachable "$VCK_DATABASE_URL"; then
      log "using VCK_DATABASE_URL"
    elif pg_reachable "$default_db_url"; then
      log "PostgreSQL already running on port $pg_port"
    else
      start_pg
    fi
    if [ -n "${VCK_REDIS_URL:-}" ] && redis_reachable "$VCK_REDIS_URL"; then
      log "using VCK_REDIS_URL"
    else
      start_redis
    fi
    echo "VCK_DATABASE_URL=${VCK_DATABASE_URL:-$default_db_url}"
    echo "VCK_REDIS_URL=${VCK_REDIS_URL:-$default_redis_url}"
    ;;
  stop)
    stop_pg; stop_redis; log "stopped" ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
