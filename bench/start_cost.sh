#!/usr/bin/env bash
# What one instance's start costs PostgreSQL: `mlops-ingest run` with nothing to consume (empty
# topics, --idle-exit-ms) against a database that already has the schema, for one or more builds
# alternated in one session, next to ten `psql -c 'SELECT 1'` connections as a yardstick. Each
# figure is the PostgreSQL cluster's CPU (the postmaster's own and reaped children's times plus
# every live child's, from /proc, as e2e_bench.sh counts it) from before the start to after a
# CHECKPOINT that follows it. A rollout of a fleet pays it once per instance.
#
# usage: bench/start_cost.sh RUNS BIN [BIN ...]
#   env: PG_PORT (default 25470); STARTS (default 1): each figure is the mean of that many starts
#   in a row (each into a database of its own), under the 10 ms of a CPU tick per figure.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
[ $# -ge 2 ] || { echo "usage: $0 RUNS BIN [BIN ...]" >&2; exit 2; }
RUNS=$1; shift
BINS=("$@")
PG_PORT=${PG_PORT:-25470}
STARTS=${STARTS:-1}
WORK=$(mktemp -d /tmp/mlops-start.XXXXXX)
PGDIR=/tmp/mlops-start-pg-$PG_PORT
BROKER_PID=
cleanup() {
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null
  wait 2>/dev/null || true
  scripts/pg-throwaway.sh stop "$PGDIR" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ADMIN=$(scripts/pg-throwaway.sh start "$PGDIR" "$PG_PORT")
dsn() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=$1"; }
start_dev_broker "${BINS[0]}" 16 "$WORK"
psql -q "$ADMIN" -c "CREATE DATABASE start_template" >/dev/null
"${BINS[0]}" schema apply --pg "$(dsn start_template)" >/dev/null
CLK_TCK=$(getconf CLK_TCK)
pg_cpu_ticks() { pg_cluster_cpu_ticks "$PGDIR"; }
# Milliseconds of PostgreSQL CPU that "$@" costs, divided by STARTS.
pg_ms_of() {
  psql -q "$ADMIN" -c CHECKPOINT >/dev/null
  sleep 1
  local before
  before=$(pg_cpu_ticks)
  if ! "$@" >"$WORK/last.log" 2>&1; then
    cat "$WORK/last.log" >&2
    echo "failed"
    return
  fi
  psql -q "$ADMIN" -c CHECKPOINT >/dev/null
  echo $(( ($(pg_cpu_ticks) - before) * 1000 / CLK_TCK / STARTS ))
}
ten_selects() {
  for s in $(seq "$STARTS"); do
    for _ in $(seq 10); do psql -qtA "$(dsn "$1_$s")" -c "SELECT 1"; done
  done
}
# STARTS starts of BIN, each into its own database DB_1, DB_2, ... with its own group.
starts() {
  local bin=$1 db=$2 group=$3
  for s in $(seq "$STARTS"); do
    "$bin" run --brokers "$BROKERS" --pg "$(dsn "${db}_$s")" --group "$group-$s" --idle-exit-ms 500 \
      --progress-interval-ms 0 --http-listen= || return 1
  done
}
k=0
for run in $(seq "$RUNS"); do
  order=("${!BINS[@]}")
  [ $((run % 2)) = 0 ] && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
  k=$((k + 1))
  for s in $(seq "$STARTS"); do
    psql -q "$ADMIN" -c "CREATE DATABASE s${k}_$s TEMPLATE start_template" >/dev/null
  done
  echo "run $run: ten psql connections: $(pg_ms_of ten_selects "s$k") ms"
  for i in "${order[@]}"; do
    echo "run $run ${BINS[$i]}: $(pg_ms_of starts "${BINS[$i]}" "s$k" "g$k-$i") ms"
  done
  for s in $(seq "$STARTS"); do psql -q "$ADMIN" -c "DROP DATABASE s${k}_$s" >/dev/null; done
done
echo "(PostgreSQL CPU, ticks of 1/$CLK_TCK s: ±$((1000 / CLK_TCK / STARTS)) ms per figure)"
