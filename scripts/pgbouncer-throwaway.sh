#!/usr/bin/env bash
# A throwaway PgBouncer in transaction pooling mode in front of a (throwaway) PostgreSQL on
# 127.0.0.1, for the tests (tests/support/pgbouncer_env.cpp) and the bench (PGBOUNCER=1).
#   scripts/pgbouncer-throwaway.sh start DIR PORT PG_PORT [POOL_SIZE]
#       write DIR/pgbouncer.ini (DIR wiped first), start it on 127.0.0.1:PORT, wait until its admin
#       console answers; prints the connection string of database `postgres` through it
#   scripts/pgbouncer-throwaway.sh launch DIR     start it again with the same DIR (after a kill)
#   scripts/pgbouncer-throwaway.sh reboot DIR     online restart (pgbouncer -R): a new process takes
#       the listening and client sockets over from the running one, clients stay connected
#   scripts/pgbouncer-throwaway.sh stop DIR       stop it (SIGTERM) and delete DIR
# Every database name is passed through to the same name on PG_PORT (a `*` entry), so tests can
# use fresh databases. POOL_SIZE (default 2) is the most server connections per database:
# fewer than the ingester's client connections, so they really are shared. auth_type = trust
# (the throwaway cluster trusts 127.0.0.1 too); the users in PGB_USERS (default "postgres") may
# log in, the first of them is admin on the console (database `pgbouncer`).
# PgBouncer refuses to run as root: as root it runs as the `postgres` user, like the cluster.
set -euo pipefail

cmd=${1:?usage: $0 start|launch|reboot|stop DIR [PORT PG_PORT [POOL_SIZE]]}
dir=${2:?usage: $0 start|launch|reboot|stop DIR [PORT PG_PORT [POOL_SIZE]]}

bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$bin" ] || { echo "pgbouncer not found (apt-get install pgbouncer)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The port from the written configuration (launch, reboot).
port_of() { sed -n 's/^listen_port = //p' "$dir/pgbouncer.ini"; }
admin_user() { sed -n 's/^admin_users = //p' "$dir/pgbouncer.ini"; }

wait_ready() {
  local port=$1
  for _ in $(seq 300); do
    if psql -X -q -tA "host=127.0.0.1 port=$port dbname=pgbouncer user=$(admin_user) connect_timeout=2" \
         -c "SHOW VERSION" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "pgbouncer on port $port did not come up within 30 s" >&2
  tail -n 30 "$dir/pgbouncer.log" >&2 || true
  return 1
}

# A pidfile left by a killed process makes pgbouncer refuse to start; a zombie counts as dead.
clear_stale_pidfile() {
  local pid
  pid=$(cat "$dir/pgbouncer.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  if [ -r "/proc/$pid/stat" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; then return 0; fi
  rm -f "$dir/pgbouncer.pid"
}

launch() {
  # -d: daemonize (pidfile and logfile are in the configuration).
  as_owner "$bin" -d "$@" "$dir/pgbouncer.ini" >>"$dir/launch.log" 2>&1 || { cat "$dir/launch.log" >&2; exit 1; }
  wait_ready "$(port_of)"
}

stop_running() {
  local pid
  pid=$(cat "$dir/pgbouncer.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

case "$cmd" in
  start)
    port=${3:?PORT missing}
    pg_port=${4:?PG_PORT missing}
    pool=${5:-2}
    users=(${PGB_USERS:-postgres})
    [ -d "$dir" ] && stop_running
    rm -rf "$dir"
    mkdir -p "$dir"
    for u in "${users[@]}"; do printf '"%s" ""\n' "$u"; done >"$dir/userlist.txt"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $dir
pool_mode = transaction
default_pool_size = $pool
max_db_connections = $pool
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = ${users[0]}
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    launch
    echo "host=127.0.0.1 port=$port user=${users[0]} dbname=postgres"
    ;;
  launch)
    clear_stale_pidfile
    launch
    ;;
  reboot)
    launch -R
    ;;
  stop)
    [ -d "$dir" ] && stop_running
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|launch|reboot|stop DIR [PORT PG_PORT [POOL_SIZE]]" >&2
    exit 2
    ;;
esac
