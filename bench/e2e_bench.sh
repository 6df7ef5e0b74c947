#!/usr/bin/env bash
# End-to-end benchmark, side by side in one run on one machine:
#   A) mlops-ingest: N prediction events from the embedded Kafka broker into a fresh database
#      (parsed, validated, idempotent, offsets committed in the same transactions);
#   B) psql \copy of the same N rows (CSV) into another fresh database with the same schema.
# Each is repeated RUNS times, alternating, and the best and median rates are compared.
# The ingester's time is first message received → last batch committed (its own summary);
# psql's is the wall time of the \copy command.
#
# usage: bench/e2e_bench.sh [N] [RUNS]      (env: BUILD_DIR, PARTITIONS, WRITERS, PG_PORT, EXTRA_ARGS)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-200000}
RUNS=${2:-3}
BUILD_DIR=${BUILD_DIR:-build-release}
PARTITIONS=${PARTITIONS:-16}
PG_PORT=${PG_PORT:-25450}
EXTRA_ARGS=${EXTRA_ARGS:-}
BIN=$BUILD_DIR/mlops-ingest
[ -x "$BIN" ] || { echo "build first: $BIN not found (scripts/build.sh)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/mlops-bench.XXXXXX)
chmod 755 "$WORK"
PGDIR=/tmp/mlops-bench-pg-$PG_PORT
BROKER_PID=
cleanup() {
  [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null || true
  scripts/pg-throwaway.sh stop "$PGDIR" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ADMIN=$(scripts/pg-throwaway.sh start "$PGDIR" "$PG_PORT")
dsn() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=$1"; }

"$BIN" dev-broker --partitions "$PARTITIONS" --topics predictions,labels >"$WORK/broker.out" 2>"$WORK/broker.log" &
BROKER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/broker.out" ] && break; sleep 0.1; done
BROKERS=$(head -n 1 "$WORK/broker.out")

echo "producing $N prediction events to $BROKERS ($PARTITIONS partitions)..."
"$BIN" produce --brokers "$BROKERS" --predictions "$N" --seed 7 --label-ratio 0 --duplicate-ratio 0 \
  --compression none --csv "$WORK/predictions.csv" >"$WORK/produce.out"
cat "$WORK/produce.out"
COLUMNS="prediction_id, created_at, model_version, model_stage, prediction, probability, age, debt_ratio, monthly_income, number_dependents, request_source, response_time_ms"

ingest_rates=()
psql_rates=()
for run in $(seq "$RUNS"); do
  for db in ingest_$run psql_$run; do
    psql -q "$ADMIN" -c "CREATE DATABASE $db" >/dev/null
    "$BIN" schema apply --pg "$(dsn "$db")" >/dev/null
  done
  psql -q "$(dsn psql_$run)" -c "CHECKPOINT" >/dev/null
  # shellcheck disable=SC2086
  "$BIN" run --brokers "$BROKERS" --pg "$(dsn ingest_$run)" --group "bench-$run" --idle-exit-ms 1000 \
    --progress-interval-ms 0 $EXTRA_ARGS 2>"$WORK/ingest_$run.log"
  summary=$(grep -o 'summary:.*' "$WORK/ingest_$run.log")
  rows=$(psql -tA "$(dsn ingest_$run)" -c "SELECT count(*) FROM prediction_logs")
  [ "$rows" = "$N" ] || { echo "ingester stored $rows rows, expected $N" >&2; cat "$WORK/ingest_$run.log" >&2; exit 1; }
  active=$(sed -E 's/.*active ([0-9.]+) s.*/\1/' <<<"$summary")
  ingest_rate=$(awk -v n="$N" -v s="$active" 'BEGIN { printf "%.0f", n / s }')

  psql -q "$(dsn ingest_$run)" -c "CHECKPOINT" >/dev/null
  start=$(date +%s%N)
  psql -q "$(dsn psql_$run)" -c "\\copy prediction_logs ($COLUMNS) FROM '$WORK/predictions.csv' WITH (FORMAT csv)"
  end=$(date +%s%N)
  psql_rate=$(awk -v n="$N" -v ns="$((end - start))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
  echo "run $run: mlops-ingest $ingest_rate rows/s (${active} s)   psql \\copy $psql_rate rows/s   ratio $(awk -v a="$ingest_rate" -v b="$psql_rate" 'BEGIN { printf "%.2f", a / b }')"
  ingest_rates+=("$ingest_rate")
  psql_rates+=("$psql_rate")
  psql -q "$ADMIN" -c "DROP DATABASE ingest_$run" -c "DROP DATABASE psql_$run" >/dev/null
done

best() { printf '%s\n' "$@" | sort -n | tail -n 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
bi=$(best "${ingest_rates[@]}"); bp=$(best "${psql_rates[@]}")
mi=$(median "${ingest_rates[@]}"); mp=$(median "${psql_rates[@]}")
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "N=$N runs=$RUNS partitions=$PARTITIONS args='$EXTRA_ARGS'"
echo "best:   mlops-ingest $bi rows/s   psql \\copy $bp rows/s   ratio $(awk -v a="$bi" -v b="$bp" 'BEGIN { printf "%.2f", a / b }')"
echo "median: mlops-ingest $mi rows/s   psql \\copy $mp rows/s   ratio $(awk -v a="$mi" -v b="$mp" 'BEGIN { printf "%.2f", a / b }')"
