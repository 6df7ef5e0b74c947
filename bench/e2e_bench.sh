#!/usr/bin/env bash
# End-to-end benchmark, side by side in one run on one machine. Modes (MODE=…):
#   predictions (default)  A) mlops-ingest: N prediction events from the embedded Kafka broker into a
#                          fresh database (parsed, validated, idempotent, offsets committed in the same
#                          transactions); B) psql \copy of the same N rows (CSV, sorted by
#                          prediction_id) into another fresh database with the same schema.
#   backfill               predictions AND labels for 80% of them (5% of those produced before their
#                          prediction) are all in Kafka before the ingester starts; the baseline is
#                          psql \copy of the same predictions and then the same labels (foreign key
#                          included). Also reports how many labels were parked in label_pending.
#   latency                the ingester runs with default settings (but for FETCH_WAIT_MS, below)
#                          while `mlops-ingest loadtest` produces at a steady RATE for DURATION
#                          seconds and reports p50/p99/max of send → visible in PostgreSQL (no
#                          baseline: psql has no stream).
# PREFILL=M first loads M rows into prediction_logs of every database (a table that has been in
# production for weeks), from a template database, so both sides start from the same table.
# Each throughput mode is repeated RUNS times, alternating, and the best and median are compared.
# The ingester's time is first message received → last batch committed (its own summary); psql's
# is the wall time of its \copy commands.
# PGBOUNCER=1: the ingester connects through a PgBouncer in transaction pooling mode
# (scripts/pgbouncer-throwaway.sh, PGB_POOL_SIZE server connections, default 2 = the writers) on
# PG_PORT + 1, in front of the same PostgreSQL; psql \copy still goes direct.
# IDS=uuid: prediction_ids are random UUIDv4s, as model servers send them (default: ascending
# pred-7-NNNNNNNNNN, which lets both sides append at the right edge of the unique index); psql
# loads the CSV in the order the events were produced, as the ingester receives them.
# INSTANCES=K: K ingesters in one consumer group share the partitions; the rate is the
# aggregate: all rows over the earliest first message → the latest last commit.
# CEILING=1: a third side in every run, the write path's ceiling (bench/copy_ceiling): the same
# events read from Kafka and encoded by the ingester's own code before its clock starts, then
# only binary COPY over as many connections as the ingester has writers, each taking the
# writers' partitions, sorted batches of the largest batch size, one transaction each. Adjacent
# to the ingester in every run (odd runs: ceiling, ingester, psql; even: psql, ingester,
# ceiling); the end prints the ceiling against psql and the ingester against the ceiling.
# CEILING_ARGS adds copy_ceiling's flags (--writers N to match EXTRA_ARGS="--writers N",
# --batch-rows N).
#
# Cost, each side of each run (the throughput modes): the ingester's CPU per event (user +
# system of its process(es), from the kernel's accounting at exit), the embedded broker's CPU
# per event while the ingester runs (it shares the machine's cores, which psql does not pay;
# a real deployment's Kafka runs elsewhere), and the PostgreSQL cluster's
# CPU per stored row: the postmaster's own and reaped children's times plus every live child's
# (backends, checkpointer, walwriter, autovacuum…) from /proc, taken before the side after its
# settle (a CHECKPOINT) and after it after another CHECKPOINT, so each side pays for the pages
# it dirtied.
#
# Where PostgreSQL's time goes, per side (both profiles add CPU of their own, so a set run with
# either gives profiles, not cost figures to quote):
# WAITS=1: a procedure in the admin database samples pg_stat_activity every 2 ms for the whole
#   set — each active backend of the runs' databases with its wait event, or CPU when it has
#   none — and the end prints, per side, the samples of each. Also prints pg_stat_wal per side.
# PERF_DIR=DIR: `perf record -a` (999 Hz) around each side, into DIR/{ingester,psql,ceiling}_RUN.data,
#   and the end prints each file's samples in postgres processes: per process the side started
#   (its backends) and the cluster's own together; compare two sides with
#   `perf report -i FILE --comm postgres --sort dso,sym -n`. Also prints pg_stat_wal per side.
#   PERF_OPTS adds options to `perf record` (e.g. "-g" for call graphs).
#
# usage: bench/e2e_bench.sh [N] [RUNS]
#   env: MODE, BUILD_DIR, PARTITIONS, PREFILL, PG_PORT, EXTRA_ARGS, RATE, DURATION, PG_EXTRA_OPTS, SETTLE_S,
#        PGBOUNCER, PGB_POOL_SIZE, IDS, INSTANCES, CEILING, CEILING_ARGS, FETCH_WAIT_MS (latency), WAITS, PERF_DIR, PERF_OPTS
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

MODE=${MODE:-predictions}
N=${1:-200000}
RUNS=${2:-3}
BUILD_DIR=${BUILD_DIR:-build-release}
case "$MODE" in
  backfill) PARTITIONS=${PARTITIONS:-64} ;;
  *) PARTITIONS=${PARTITIONS:-16} ;;
esac
PREFILL=${PREFILL:-0}
PG_PORT=${PG_PORT:-25450}
EXTRA_ARGS=${EXTRA_ARGS:-}
RATE=${RATE:-20000}
DURATION=${DURATION:-30}
IDS=${IDS:-sequential}
INSTANCES=${INSTANCES:-1}
WAITS=${WAITS:-0}
PERF_DIR=${PERF_DIR:-}
CEILING=${CEILING:-0}
if [ -n "$PERF_DIR" ]; then
  command -v perf >/dev/null || { echo "PERF_DIR needs perf (apt-get install linux-perf)" >&2; exit 1; }
  mkdir -p "$PERF_DIR"
fi
case "$IDS" in sequential|uuid) ;; *) echo "IDS must be sequential or uuid, not '$IDS'" >&2; exit 2 ;; esac
BIN=$BUILD_DIR/mlops-ingest
[ -x "$BIN" ] || { echo "build first: $BIN not found (scripts/build.sh)" >&2; exit 1; }
CEILING_BIN=$BUILD_DIR/bench/copy_ceiling
if [ "$CEILING" = 1 ] && [ ! -x "$CEILING_BIN" ]; then
  echo "CEILING=1 needs $CEILING_BIN (cmake --build $BUILD_DIR --target copy_ceiling)" >&2; exit 1
fi

WORK=$(mktemp -d /tmp/mlops-bench.XXXXXX)
chmod 755 "$WORK"
PGDIR=/tmp/mlops-bench-pg-$PG_PORT
PGBOUNCER=${PGBOUNCER:-0}
PGB_PORT=$((PG_PORT + 1))
PGB_DIR=/tmp/mlops-bench-pgbouncer-$PGB_PORT
BROKER_PID= INGEST_PID= SAMPLER_PID=
cleanup() {
  for pid in $INGEST_PID $BROKER_PID $SAMPLER_PID; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$PGBOUNCER" = 1 ] && { scripts/pgbouncer-throwaway.sh stop "$PGB_DIR" || true; }
  scripts/pg-throwaway.sh stop "$PGDIR" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ADMIN=$(scripts/pg-throwaway.sh start "$PGDIR" "$PG_PORT")
dsn() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=$1"; }
# The ingester's DSN: direct, or through PgBouncer.
ingest_dsn() { dsn "$1"; }
if [ "$PGBOUNCER" = 1 ]; then
  scripts/pgbouncer-throwaway.sh start "$PGB_DIR" "$PGB_PORT" "$PG_PORT" "${PGB_POOL_SIZE:-2}" >/dev/null
  ingest_dsn() { echo "host=127.0.0.1 port=$PGB_PORT user=postgres dbname=$1"; }
fi

start_dev_broker "$BIN" "$PARTITIONS" "$WORK"

if [ "$WAITS" = 1 ]; then
  # Committed every 500 samples, so that the end reads them; stops when bench_sampler_stop has a row.
  psql -q "$ADMIN" >/dev/null <<'SQL'
CREATE UNLOGGED TABLE bench_waits (db text, event text);
CREATE UNLOGGED TABLE bench_sampler_stop (stop boolean);
CREATE PROCEDURE bench_sample() LANGUAGE plpgsql AS $$
DECLARE i bigint := 0;
BEGIN
  LOOP
    PERFORM pg_stat_clear_snapshot();  -- else the transaction sees one snapshot of the activity
    INSERT INTO bench_waits
      SELECT datname, coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
      WHERE state = 'active' AND pid <> pg_backend_pid() AND datname ~ '^(ingest|psql|ceiling)_[0-9]+$';
    i := i + 1;
    IF i % 500 = 0 THEN
      COMMIT;
      EXIT WHEN EXISTS (SELECT 1 FROM bench_sampler_stop);
    END IF;
    PERFORM pg_sleep(0.002);
  END LOOP;
  COMMIT;
END $$;
SQL
  psql -q "$ADMIN" -c "CALL bench_sample()" >/dev/null &
  SAMPLER_PID=$!
fi
# pg_stat_wal's counters, for the profiles' per-side WAL line.
wal_counters() { psql -tA "$ADMIN" -c "SELECT wal_records, wal_fpi, wal_bytes, wal_sync FROM pg_stat_wal"; }
wal_line() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, "|"); split(b, y, "|");
    printf "WAL %d records, %d full pages, %.1f MB, %d syncs", y[1] - x[1], y[2] - x[2], (y[3] - x[3]) / 1e6, y[4] - x[4] }'
}
# Profiles (WAITS, PERF_DIR) around one side: profile_start SIDE, then profile_stop SIDE.
profiling() { [ "$WAITS" = 1 ] || [ -n "$PERF_DIR" ]; }
profile_start() {
  profiling || return 0
  wal_before=$(wal_counters)
  if [ -n "$PERF_DIR" ]; then
    # The cluster's processes before the side: what the side starts (its backends, an
    # autovacuum worker) is told apart from them at the end.
    pgrep -P "$(head -n 1 "$PGDIR/data/postmaster.pid")" >"$PERF_DIR/$1_$run.before" || true
    # shellcheck disable=SC2086 # PERF_OPTS is a list of options
    perf record -F 999 -a ${PERF_OPTS:-} -o "$PERF_DIR/$1_$run.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5  # perf's own start-up, before the side starts
  fi
}
profile_stop() {
  profiling || return 0
  if [ -n "$PERF_DIR" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  profile_lines+=("run $run $1: $(wal_line "$wal_before" "$(wal_counters)")")
}
profile_lines=()

# The template every database of the run is created from: the schema, and PREFILL rows.
psql -q "$ADMIN" -c "CREATE DATABASE bench_template" >/dev/null
"$BIN" schema apply --pg "$(dsn bench_template)" >/dev/null
if [ "$PREFILL" -gt 0 ]; then
  echo "pre-filling prediction_logs with $PREFILL rows (template database)..."
  psql -q "$(dsn bench_template)" <<SQL
INSERT INTO prediction_logs (prediction_id, created_at, model_version, model_stage, prediction, probability, age,
                             debt_ratio, monthly_income, number_dependents, request_source, response_time_ms)
SELECT 'pred-0-' || lpad(g::text, 10, '0'), timestamp '2025-06-01' + g * interval '100 ms',
       'v' || (g % 7), 'production', g % 2, (g % 1000) / 1000.0, 21 + g % 60, (g % 10000) / 10000.0,
       1500 + g % 12000, g % 5, 'api-gateway', 3 + g % 40
FROM generate_series(1, $PREFILL) g;
VACUUM ANALYZE prediction_logs;
SQL
  echo "  $(psql -tA "$(dsn bench_template)" -c "SELECT pg_size_pretty(pg_total_relation_size('prediction_logs'))") with indexes"
fi
new_db() {
  psql -q "$ADMIN" -c "CREATE DATABASE $1 TEMPLATE bench_template" >/dev/null
}

if [ "$MODE" = latency ]; then
  new_db latency
  # The embedded broker holds a fetch that finds nothing new for the whole fetch.wait.max.ms (the
  # ingester's default: 100 ms), where Kafka answers as soon as data arrives: a short wait makes it
  # answer about as Kafka would. FETCH_WAIT_MS=default measures the embedded broker's own wait.
  FETCH_WAIT_ARGS="--kafka.fetch.wait.max.ms ${FETCH_WAIT_MS:-5}"
  [ "${FETCH_WAIT_MS:-5}" = default ] && FETCH_WAIT_ARGS=
  # shellcheck disable=SC2086
  "$BIN" run --brokers "$BROKERS" --pg "$(ingest_dsn latency)" --group bench-latency --auto-offset-reset latest \
    --progress-interval-ms 0 $FETCH_WAIT_ARGS $EXTRA_ARGS 2>"$WORK/ingest.log" &
  INGEST_PID=$!
  # Wait for the group to be assigned before the first event is timed.
  for _ in $(seq 200); do grep -q "assigned" "$WORK/ingest.log" && break; sleep 0.1; done
  "$BIN" loadtest --brokers "$BROKERS" --pg "$(dsn latency)" --rate "$RATE" --duration "$DURATION" --label-ratio 0
  kill -TERM "$INGEST_PID"; wait "$INGEST_PID" || true; INGEST_PID=
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "mode=latency rate=$RATE/s duration=${DURATION}s partitions=$PARTITIONS args='$FETCH_WAIT_ARGS $EXTRA_ARGS'"
  exit 0
fi

LABEL_RATIO=0
[ "$MODE" = backfill ] && LABEL_RATIO=0.8
echo "producing $N prediction events (label ratio $LABEL_RATIO) to $BROKERS ($PARTITIONS partitions)..."
"$BIN" produce --brokers "$BROKERS" --predictions "$N" --seed 7 --label-ratio "$LABEL_RATIO" --duplicate-ratio 0 \
  --compression none --ids "$IDS" --csv "$WORK/predictions.csv" --labels-csv "$WORK/labels.csv" >"$WORK/produce.out"
cat "$WORK/produce.out"
LABELS=$(sed -E 's/.*unique_labels=([0-9]+).*/\1/' "$WORK/produce.out")
TOTAL=$((N + LABELS))
# Every message in Kafka, duplicates included: what the ceiling reads before its clock starts.
MESSAGES=$(sed -E 's/.*predictions_sent=([0-9]+) labels_sent=([0-9]+).*/\1 \2/' "$WORK/produce.out" | awk '{ print $1 + $2 }')
COLUMNS="prediction_id, created_at, model_version, model_stage, prediction, probability, age, debt_ratio, monthly_income, number_dependents, request_source, response_time_ms"
LABEL_COLUMNS="prediction_id, true_label, label_timestamp, label_source, days_delayed"

ingest_rates=()
psql_rates=()
ratios=()  # each run's pair, measured back to back on the same machine state
ingest_cpu=() pg_cpu_ingest=() pg_cpu_psql=() pg_cpu_ratios=()
ceiling_ratios=() of_ceiling=() pg_cpu_ceiling=()
CLK_TCK=$(getconf CLK_TCK)
# One side of a run, each after a CHECKPOINT, a sync and SETTLE_S seconds of quiet (default 3):
# right after the two databases are created (2.2 GB with PREFILL=5000000) the disk is still busy,
# and psql, timed from its first byte, paid for it (~17% slower in the slot right after, over 30
# runs) while the ingester's clock starts after its ~3 s group join. They also alternate which
# goes first (odd runs: the ingester).
settle() {
  psql -q "$ADMIN" -c "CHECKPOINT" >/dev/null
  sync
  sleep "${SETTLE_S:-3}"
}
# The CPU ticks the PostgreSQL cluster has used so far (bench/lib.sh).
pg_cpu_ticks() { pg_cluster_cpu_ticks "$PGDIR"; }
# The embedded broker's CPU ticks so far (utime + stime, all its threads).
broker_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$BROKER_PID/stat"; }
# µs per row of a tick difference.
per_row_us() { awk -v t="$1" -v hz="$CLK_TCK" -v n="$TOTAL" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }'; }
# Runs "$@" in a subshell and writes the CPU seconds (user + system) it used to file $1: bash's
# `times` reports the subshell's children, i.e. the command.
with_cpu() {
  local out=$1
  shift
  # `times` itself, not in a pipeline: a pipeline's element is a new subshell without children.
  ( "$@" && rc=0 || rc=$?; times >"$out.times"; exit $rc )
  local rc=$?
  tail -n 1 "$out.times" | awk '{ for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.3f", s }' >"$out"
  return $rc
}
run_instance() {
  # Each instance its own metrics port (the default one is taken by the first).
  # shellcheck disable=SC2086
  "$BIN" run --brokers "$BROKERS" --pg "$(ingest_dsn ingest_$run)" --group "bench-$run" --idle-exit-ms 1000 \
    --progress-interval-ms 0 --http-listen "127.0.0.1:$((PG_PORT + 10 + $1))" $EXTRA_ARGS 2>"$WORK/ingest_${run}_$1.log"
}
measure_ingester() {
  settle
  local before pids=() k
  profile_start ingester  # before the ticks: its WAL query is not the side's
  before=$(pg_cpu_ticks)
  broker_before=$(broker_cpu_ticks)
  for k in $(seq "$INSTANCES"); do
    with_cpu "$WORK/cpu_${run}_$k" run_instance "$k" &
    pids+=($!)
  done
  for k in "${!pids[@]}"; do
    wait "${pids[$k]}" || { echo "ingester $((k + 1)) failed" >&2; cat "$WORK/ingest_${run}_$((k + 1)).log" >&2; exit 1; }
  done
  broker_ticks=$(( $(broker_cpu_ticks) - broker_before ))
  psql -q "$ADMIN" -c "CHECKPOINT" >/dev/null
  pg_ticks_ingest=$(( $(pg_cpu_ticks) - before ))
  profile_stop ingester
  rows=$(psql -tA "$(dsn ingest_$run)" -c "SELECT (SELECT count(*) FROM prediction_logs) - $PREFILL + (SELECT count(*) FROM label_store)")
  if [ "$rows" != "$TOTAL" ]; then
    echo "ingester stored $rows rows, expected $TOTAL" >&2
    # Seen with N=600000 on 16 partitions: 249,583 stored, the summary's messages the same — the
    # embedded broker had kept only the newest ~15,600 events of each partition.
    echo "(for a large N, raise PARTITIONS: the embedded broker keeps a bounded log per partition)" >&2
    cat "$WORK"/ingest_"${run}"_*.log >&2
    exit 1
  fi
  # The time: first message → last commit (the summary's "active"); for several instances, from
  # the earliest first message to the latest last commit (each summary gives both in UTC).
  active=0 pended=0 paired=0 cpu_s=0 first_ns= last_ns= batches=0
  for k in $(seq "$INSTANCES"); do
    summary=$(grep -o 'summary:.*' "$WORK/ingest_${run}_$k.log")
    active=$(sed -E 's/.*active ([0-9.]+) s.*/\1/' <<<"$summary")
    batches=$((batches + $(sed -E 's/.*\| batches ([0-9]+) \|.*/\1/' <<<"$summary")))
    if [ "$INSTANCES" -gt 1 ]; then
      f=$(date -d "$(sed -E 's/.*first message ([^,]+),.*/\1/' <<<"$summary")" +%s%N)
      l=$(date -d "$(sed -E 's/.*last commit ([^ ]+).*/\1/' <<<"$summary")" +%s%N)
      if [ -z "$first_ns" ] || [ "$f" -lt "$first_ns" ]; then first_ns=$f; fi
      if [ -z "$last_ns" ] || [ "$l" -gt "$last_ns" ]; then last_ns=$l; fi
    fi
    if [ "$LABELS" -gt 0 ]; then
      pended=$((pended + $(sed -E 's/.*labels inserted [0-9]+, pended ([0-9]+).*/\1/' <<<"$summary")))
      paired=$((paired + $(sed -E 's/.*labels paired in memory ([0-9]+).*/\1/' <<<"$summary")))
    fi
    cpu_s=$(awk -v a="$(cat "$WORK/cpu_${run}_$k")" -v b="$cpu_s" 'BEGIN { print a + b }')
  done
  [ "$INSTANCES" -gt 1 ] && active=$(awk -v a="$first_ns" -v b="$last_ns" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  ingest_rate=$(awk -v n="$TOTAL" -v s="$active" 'BEGIN { printf "%.0f", n / s }')
  ingest_cpu_us=$(awk -v s="$cpu_s" -v n="$TOTAL" 'BEGIN { printf "%.2f", s * 1e6 / n }')
  parked=""
  if [ "$LABELS" -gt 0 ]; then
    parked="   labels parked $pended of $LABELS ($(awk -v a="$pended" -v b="$LABELS" 'BEGIN { printf "%.1f", 100 * a / b }')%), paired in memory $paired"
  fi
}
measure_psql() {
  settle
  local before
  profile_start psql  # before the ticks: its WAL query is not the side's
  before=$(pg_cpu_ticks)
  start=$(date +%s%N)
  psql -q "$(dsn psql_$run)" -c "\\copy prediction_logs ($COLUMNS) FROM '$WORK/predictions.csv' WITH (FORMAT csv)"
  if [ "$LABELS" -gt 0 ]; then
    psql -q "$(dsn psql_$run)" -c "\\copy label_store ($LABEL_COLUMNS) FROM '$WORK/labels.csv' WITH (FORMAT csv)"
  fi
  end=$(date +%s%N)
  psql -q "$ADMIN" -c "CHECKPOINT" >/dev/null
  pg_ticks_psql=$(( $(pg_cpu_ticks) - before ))
  profile_stop psql
  psql_rate=$(awk -v n="$TOTAL" -v ns="$((end - start))" 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
}

measure_ceiling() {
  settle
  local before
  profile_start ceiling
  before=$(pg_cpu_ticks)
  # shellcheck disable=SC2086
  "$CEILING_BIN" --brokers "$BROKERS" --group "ceiling-$run" --pg "$(dsn ceiling_$run)" --expect "$MESSAGES" \
    ${CEILING_ARGS:-} >"$WORK/ceiling_$run.out" 2>"$WORK/ceiling_$run.log" || { cat "$WORK/ceiling_$run.log" >&2; exit 1; }
  psql -q "$ADMIN" -c "CHECKPOINT" >/dev/null
  pg_ticks_ceiling=$(( $(pg_cpu_ticks) - before ))
  profile_stop ceiling
  rows=$(psql -tA "$(dsn ceiling_$run)" -c "SELECT (SELECT count(*) FROM prediction_logs) - $PREFILL + (SELECT count(*) FROM label_store)")
  [ "$rows" = "$TOTAL" ] || { echo "copy_ceiling stored $rows rows, expected $TOTAL" >&2; cat "$WORK/ceiling_$run.out" >&2; exit 1; }
  ceiling_rate=$(sed -E 's/.* ([0-9]+) rows\/s.*/\1/' "$WORK/ceiling_$run.out")
}

for run in $(seq "$RUNS"); do
  new_db "ingest_$run"
  new_db "psql_$run"
  if [ "$CEILING" = 1 ]; then new_db "ceiling_$run"; fi
  if [ $((run % 2)) = 1 ]; then
    if [ "$CEILING" = 1 ]; then measure_ceiling; fi
    measure_ingester; measure_psql; first="ingester first"
  else
    measure_psql; measure_ingester; first="psql first"
    if [ "$CEILING" = 1 ]; then measure_ceiling; fi
  fi
  echo "run $run: mlops-ingest $ingest_rate rows/s (${active} s, $batches transactions)   psql \\copy $psql_rate rows/s   ratio $(awk -v a="$ingest_rate" -v b="$psql_rate" 'BEGIN { printf "%.2f", a / b }')   ($first)$parked"
  pg_ingest_us=$(per_row_us "$pg_ticks_ingest"); pg_psql_us=$(per_row_us "$pg_ticks_psql")
  echo "       cost: mlops-ingest CPU $ingest_cpu_us µs/event (the embedded broker meanwhile $(per_row_us "$broker_ticks") µs/event)   PostgreSQL CPU per stored row: ingester $pg_ingest_us µs, psql \\copy $pg_psql_us µs, ratio $(awk -v a="$pg_ingest_us" -v b="$pg_psql_us" 'BEGIN { printf "%.2f", a / b }')"
  ingest_cpu+=("$ingest_cpu_us"); pg_cpu_ingest+=("$pg_ingest_us"); pg_cpu_psql+=("$pg_psql_us")
  pg_cpu_ratios+=("$(awk -v a="$pg_ingest_us" -v b="$pg_psql_us" 'BEGIN { printf "%.4f", a / b }')")
  if [ "$CEILING" = 1 ]; then
    pg_ceiling_us=$(per_row_us "$pg_ticks_ceiling")
    ceiling_ratios+=("$(awk -v a="$ceiling_rate" -v b="$psql_rate" 'BEGIN { printf "%.4f", a / b }')")
    of_ceiling+=("$(awk -v a="$ingest_rate" -v b="$ceiling_rate" 'BEGIN { printf "%.4f", a / b }')")
    pg_cpu_ceiling+=("$pg_ceiling_us")
    echo "       ceiling (COPY only, $(sed -E 's/.*connections, ([0-9]+) transactions/\1 transactions/' "$WORK/ceiling_$run.out")): $ceiling_rate rows/s = $(LC_ALL=C printf '%.2f' "${ceiling_ratios[-1]}") × psql; the ingester at $(LC_ALL=C printf '%.2f' "${of_ceiling[-1]}") of it; PostgreSQL CPU per stored row $pg_ceiling_us µs"
  fi
  ingest_rates+=("$ingest_rate")
  psql_rates+=("$psql_rate")
  ratios+=("$(awk -v a="$ingest_rate" -v b="$psql_rate" 'BEGIN { printf "%.4f", a / b }')")
  # WITH (FORCE): PgBouncer may still hold idle server connections to it.
  psql -q "$ADMIN" -c "DROP DATABASE ingest_$run WITH (FORCE)" -c "DROP DATABASE psql_$run" >/dev/null
  if [ "$CEILING" = 1 ]; then psql -q "$ADMIN" -c "DROP DATABASE ceiling_$run" >/dev/null; fi
done

best() { printf '%s\n' "$@" | sort -n | tail -n 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
bi=$(best "${ingest_rates[@]}"); bp=$(best "${psql_rates[@]}")
mi=$(median "${ingest_rates[@]}"); mp=$(median "${psql_rates[@]}")
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "mode=$MODE N=$N labels=$LABELS prefill=$PREFILL runs=$RUNS partitions=$PARTITIONS ids=$IDS instances=$INSTANCES args='$EXTRA_ARGS'$([ "$CEILING" = 1 ] && echo " ceiling args='${CEILING_ARGS:-}'")$([ "$PGBOUNCER" = 1 ] && echo " ingester through PgBouncer (transaction pooling, pool ${PGB_POOL_SIZE:-2})")"
echo "best:   mlops-ingest $bi rows/s   psql \\copy $bp rows/s   ratio $(awk -v a="$bi" -v b="$bp" 'BEGIN { printf "%.2f", a / b }')"
echo "median: mlops-ingest $mi rows/s   psql \\copy $mp rows/s   ratio $(awk -v a="$mi" -v b="$mp" 'BEGIN { printf "%.2f", a / b }')"
echo "median of the runs' ratios: $(median "${ratios[@]}" | awk '{ printf "%.2f", $1 }')   (each run's ingester against its psql run, measured back to back)"
echo "median cost: mlops-ingest CPU $(median "${ingest_cpu[@]}") µs/event   PostgreSQL CPU per stored row: ingester $(median "${pg_cpu_ingest[@]}") µs, psql \\copy $(median "${pg_cpu_psql[@]}") µs, median of the runs' ratios $(median "${pg_cpu_ratios[@]}" | awk '{ printf "%.2f", $1 }')"
if [ "$CEILING" = 1 ]; then
  echo "median ceiling: $(median "${ceiling_ratios[@]}" | awk '{ printf "%.2f", $1 }') × psql (median of the runs' ratios); the ingester at $(median "${of_ceiling[@]}" | awk '{ printf "%.2f", $1 }') of the ceiling; PostgreSQL CPU per stored row $(median "${pg_cpu_ceiling[@]}") µs"
fi
if profiling; then
  echo
  echo "profiles (their own CPU is in the cost figures above):"
  printf '  %s\n' "${profile_lines[@]}"
fi
if [ "$WAITS" = 1 ]; then
  psql -q "$ADMIN" -c "INSERT INTO bench_sampler_stop VALUES (true)" >/dev/null
  wait "$SAMPLER_PID" || true
  SAMPLER_PID=
  echo "active backends every 2 ms, by wait event (CPU: none), samples per side:"
  psql -q "$ADMIN" -c "SELECT CASE WHEN db LIKE 'ingest%' THEN 'mlops-ingest' WHEN db LIKE 'ceiling%' THEN 'ceiling' ELSE 'psql' END AS side, event, count(*) AS samples
                       FROM bench_waits GROUP BY 1, 2 ORDER BY 1, 3 DESC"
fi
if [ -n "$PERF_DIR" ]; then
  echo "perf samples in postgres processes (999 Hz, whole machine): all = the processes the side started"
  echo "(its backends, largest first: the writers' or COPY's connections, then the start's) + the cluster's own:"
  for f in "$PERF_DIR"/*_[0-9]*.data; do
    side=${f%.data}
    perf report -i "$f" --comm postgres --sort pid -n --stdio -g none 2>/dev/null |
      awk -v side="$(basename "$side")" 'NR == FNR { own[$1] = 1; next }
        /^#/ || NF < 3 { next }
        { split($3, p, ":"); all += $2; if (p[1] in own) cluster += $2; else started = started " " $2 }
        END { printf "  %s: %d = [%s ] + %d\n", side, all, started, cluster }' "$side.before" -
  done
fi
