#!/usr/bin/env bash
# The ingester's own CPU per event in a backfill (predictions + labels for 80% of them, all in
# Kafka before the start, 64 partitions: e2e_bench.sh's MODE=backfill), for one or more builds
# alternated in one session. Each run: a fresh database from one template, a CHECKPOINT and a
# settle, then `mlops-ingest run … --idle-exit-ms 1000` under /usr/bin/time; user + system of the
# whole process (start-up, group join and the idle second included) divided by the events.
# Also prints minor page faults, voluntary context switches and peak RSS.
#
# usage: bench/ingester_cpu.sh RUNS BIN [BIN ...]
#   env: N (predictions, default 200000), PG_PORT (default 25460), EXTRA_ARGS (ingester flags),
#        PERF=1 (`perf record $PERF_OPTS` around the first run of each binary; default -g),
#        FLOOR=1 (each round also runs bench/kafka_floor from the first binary's build: the
#        ingester's librdkafka consumer reading and dropping the same events, its CPU counted
#        the same way: what librdkafka alone costs per event; FLOOR_ARGS adds its flags)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
[ $# -ge 2 ] || { echo "usage: $0 RUNS BIN [BIN ...]" >&2; exit 2; }
RUNS=$1; shift
BINS=("$@")
N=${N:-200000}
PG_PORT=${PG_PORT:-25460}
B0=${BINS[0]}
WORK=$(mktemp -d /tmp/mlops-cpu.XXXXXX); chmod 755 "$WORK"
PGDIR=/tmp/mlops-cpu-pg-$PG_PORT
BROKER_PID=
cleanup() {
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null
  wait 2>/dev/null || true
  scripts/pg-throwaway.sh stop "$PGDIR" || true
  [ "${PERF:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
ADMIN=$(scripts/pg-throwaway.sh start "$PGDIR" "$PG_PORT")
dsn() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=$1"; }
start_dev_broker "$B0" 64 "$WORK"
psql -q "$ADMIN" -c "CREATE DATABASE bench_template" >/dev/null
"$B0" schema apply --pg "$(dsn bench_template)" >/dev/null
"$B0" produce --brokers "$BROKERS" --predictions "$N" --seed 7 --label-ratio 0.8 --duplicate-ratio 0 \
  --compression none >"$WORK/produce.out"
LABELS=$(sed -E 's/.*unique_labels=([0-9]+).*/\1/' "$WORK/produce.out")
TOTAL=$((N + LABELS))
echo "events: $N predictions + $LABELS labels = $TOTAL"
k=0
for run in $(seq "$RUNS"); do
  order=("${!BINS[@]}")
  [ $((run % 2)) = 0 ] && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
  for i in "${order[@]}"; do
    k=$((k + 1))
    psql -q "$ADMIN" -c "CREATE DATABASE d$k TEMPLATE bench_template" >/dev/null
    psql -q "$ADMIN" -c CHECKPOINT >/dev/null; sync; sleep 2
    pre=()
    [ "${PERF:-0}" = 1 ] && [ "$run" = 1 ] && pre=(perf record ${PERF_OPTS:--g} -o "$WORK/perf_$i.data" --)
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S %e %R %w %M' -o "$WORK/time_$k" "${pre[@]}" "${BINS[$i]}" run --brokers "$BROKERS" \
      --pg "$(dsn d$k)" --group "g$k" --idle-exit-ms 1000 --progress-interval-ms 0 --http-listen= \
      ${EXTRA_ARGS:-} 2>"$WORK/ingest_$k.log" || { cat "$WORK/ingest_$k.log" >&2; exit 1; }
    rows=$(psql -tA "$(dsn d$k)" -c "SELECT (SELECT count(*) FROM prediction_logs) + (SELECT count(*) FROM label_store)")
    [ "$rows" = "$TOTAL" ] || { echo "stored $rows rows, expected $TOTAL" >&2; exit 1; }
    read -r u s e flt vcs rss <"$WORK/time_$k"
    awk -v b="${BINS[$i]}" -v u="$u" -v s="$s" -v e="$e" -v n="$TOTAL" -v run="$run" -v f="$flt" -v c="$vcs" -v m="$rss" \
      'BEGIN { printf "run %d %s: %.3f us/event (user %.2f s, system %.2f s, wall %.1f s; minor faults %d, voluntary switches %d, peak RSS %d MiB)\n", run, b, (u + s) * 1e6 / n, u, s, e, f, c, m / 1024 }'
    psql -q "$ADMIN" -c "DROP DATABASE d$k WITH (FORCE)" >/dev/null
  done
  if [ "${FLOOR:-0}" = 1 ]; then
    sync; sleep 2
    pre=()
    [ "${PERF:-0}" = 1 ] && [ "$run" = 1 ] && pre=(perf record ${PERF_OPTS:--g} -o "$WORK/perf_floor.data" --)
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S %e %R %w %M' -o "$WORK/time_floor" "${pre[@]}" "$(dirname "$B0")/bench/kafka_floor" \
      --brokers "$BROKERS" --group "floor$run" --idle-exit-ms 1000 ${FLOOR_ARGS:-} >"$WORK/floor.out"
    seen=$(sed -E 's/kafka_floor: ([0-9]+) messages.*/\1/' "$WORK/floor.out")
    [ "$seen" = "$TOTAL" ] || { echo "kafka_floor saw $seen messages, expected $TOTAL" >&2; exit 1; }
    read -r u s e flt vcs rss <"$WORK/time_floor"
    awk -v u="$u" -v s="$s" -v e="$e" -v n="$TOTAL" -v run="$run" -v f="$flt" -v c="$vcs" -v m="$rss" \
      'BEGIN { printf "run %d kafka_floor: %.3f us/event (user %.2f s, system %.2f s, wall %.1f s; minor faults %d, voluntary switches %d, peak RSS %d MiB)\n", run, (u + s) * 1e6 / n, u, s, e, f, c, m / 1024 }'
  fi
done
if [ "${PERF:-0}" = 1 ]; then echo "perf data: $WORK/perf_*.data"; fi
