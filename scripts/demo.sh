#!/usr/bin/env bash
# README command 1, the main job: install dependencies, build, start a throwaway PostgreSQL and
# the embedded Kafka broker, stream N synthetic prediction events plus their delayed labels
# (some labels arriving before their prediction, some events duplicated, a few malformed) and,
# alongside, the lower-volume kinds (a model lifecycle on `models`, monitoring alerts on
# `alerts`, retraining decisions on `retraining`) through mlops-ingest with its progress on
# screen, then print a summary: rows stored against what was produced (predictions and labels,
# then the three lower-volume tables in their own section), duplicates skipped, dead letters,
# rows/s, the final model lifecycle and the seed's four Common Queries.
# Stops everything it started.
#
# usage: scripts/demo.sh [N]        (default N = 1000000 predictions)
#   PG_PORT (default 25440), METRICS_PORT (default 8397), PARTITIONS (default 32)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-1000000}
PG_PORT=${PG_PORT:-25440}
PARTITIONS=${PARTITIONS:-32}

scripts/install-deps.sh
echo "== building (Release)"
scripts/build.sh build-release Release
BIN=build-release/mlops-ingest

WORK=$(mktemp -d /tmp/mlops-demo.XXXXXX)
PGDIR=/tmp/mlops-demo-pg-$PG_PORT
BROKER_PID= INGEST_PID= PRODUCE_PID=
cleanup() {
  for pid in $PRODUCE_PID $INGEST_PID $BROKER_PID; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg-throwaway.sh stop "$PGDIR" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting a throwaway PostgreSQL on 127.0.0.1:$PG_PORT"
ADMIN=$(scripts/pg-throwaway.sh start "$PGDIR" "$PG_PORT")
psql -q "$ADMIN" -c "CREATE DATABASE mlops"
DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=mlops"

echo "== starting the embedded Kafka broker ($PARTITIONS partitions per topic)"
"$BIN" dev-broker --partitions "$PARTITIONS" --topics predictions,labels,models,alerts,retraining >"$WORK/broker.out" 2>"$WORK/broker.log" &
BROKER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/broker.out" ] && break; sleep 0.1; done
BROKERS=$(head -n 1 "$WORK/broker.out")
[ -n "$BROKERS" ] || { cat "$WORK/broker.log" >&2; exit 1; }
echo "   bootstrap: $BROKERS"

"$BIN" schema apply --pg "$DSN" >/dev/null

# The producer keeps each partition's backlog small (the embedded broker keeps ~5 MB per
# partition), so it runs alongside the ingester, as model servers would.
echo "== producing $N predictions and their labels, with model lifecycle, alert and retraining events, while mlops-ingest consumes them"
"$BIN" produce --brokers "$BROKERS" --predictions "$N" --seed 2026 --label-ratio 0.8 \
  --early-label-ratio 0.05 --duplicate-ratio 0.01 --invalid-ratio 0.0005 \
  --models-topic models --alerts-topic alerts --retraining-topic retraining \
  --start-time $(( $(date +%s) - N / 10 )) --throttle-pg "$DSN" --throttle-group mlops-demo \
  >"$WORK/produce.out" &
PRODUCE_PID=$!

METRICS=127.0.0.1:${METRICS_PORT:-8397}
echo "== metrics and health while it runs: curl http://$METRICS/metrics  (/healthz, /readyz)"
"$BIN" run --brokers "$BROKERS" --pg "$DSN" --group mlops-demo --idle-exit-ms 5000 --http-listen "$METRICS" \
  --progress-interval-ms 3000 2> >(tee "$WORK/ingest.log" >&2) &
INGEST_PID=$!

wait "$PRODUCE_PID"; PRODUCE_PID=
wait "$INGEST_PID"; INGEST_PID=

q() { psql -tA "$DSN" -c "$1"; }
# The value of KEY=NUMBER in the generator's report (a whole key: alert_rows is not drift_alert_rows).
expected() { grep -oE "(^| )$1=[0-9]+" "$WORK/produce.out" | head -n 1 | sed -E 's/.*=//'; }
check() {  # label, actual, expected
  if [ "$2" = "$3" ]; then mark=ok; else mark="MISMATCH"; FAILED=1; fi
  printf '  %-44s %12s   expected %12s   %s\n' "$1" "$2" "$3" "$mark"
}
FAILED=0
summary=$(grep -o 'summary:.*' "$WORK/ingest.log" | tail -n 1)

echo
echo "================================ summary ================================"
echo "produced: $(cat "$WORK/produce.out")"
echo
echo "rows stored (exactly once):"
check "prediction_logs" "$(q 'SELECT count(*) FROM prediction_logs')" "$(expected unique_predictions)"
check "label_store" "$(q 'SELECT count(*) FROM label_store')" "$(expected unique_labels)"
check "label_pending (labels still waiting)" "$(q 'SELECT count(*) FROM label_pending')" "0"
check "ingest_dead_letters" "$(q 'SELECT count(*) FROM ingest_dead_letters')" "$(expected invalid_events)"
check "prediction duplicates skipped" "$(sed -E 's/.*predictions inserted [0-9]+, duplicates skipped ([0-9]+).*/\1/' <<<"$summary")" "$(expected duplicate_predictions)"
check "label duplicates skipped" "$(sed -E 's/.*released [0-9]+, duplicates skipped ([0-9]+).*/\1/' <<<"$summary")" "$(expected duplicate_labels)"
echo
echo "dead letters by reason:"
psql "$DSN" -c "SELECT reason_code, count(*), min(reason) AS example FROM ingest_dead_letters GROUP BY 1 ORDER BY 2 DESC"
echo "throughput: $(sed -E 's/.*\| active ([0-9.]+) s, ([0-9]+) messages\/s.*/\2 messages\/s over \1 s (first message to last commit)/' <<<"$summary")"
echo

# The three lower-volume kinds (topics models, alerts, retraining; written by their description,
# docs/events.md), checked in a section of their own.
FAILED_MAIN=$FAILED
FAILED=0
echo "model lifecycle, alerts, retraining (topics models, alerts, retraining):"
check "model_metadata (distinct versions)" "$(q 'SELECT count(*) FROM model_metadata')" "$(expected model_rows)"
check "model_metadata in production" "$(q "SELECT count(*) FROM model_metadata WHERE model_stage = 'production'")" "$(expected models_production)"
check "model_metadata archived" "$(q "SELECT count(*) FROM model_metadata WHERE model_stage = 'archived'")" "$(expected models_archived)"
check "model_metadata in staging" "$(q "SELECT count(*) FROM model_metadata WHERE model_stage = 'staging'")" "$(expected models_staging)"
check "model_metadata registered" "$(q "SELECT count(*) FROM model_metadata WHERE model_stage = 'registered'")" "$(expected models_registered)"
check "model_metadata with deployed_at" "$(q 'SELECT count(*) FROM model_metadata WHERE deployed_at IS NOT NULL')" "$(expected models_deployed)"
check "model_version:model_stage, all versions" \
  "$(q "SELECT coalesce(string_agg(model_version || ':' || model_stage, ',' ORDER BY created_at, model_version), '-') FROM model_metadata")" \
  "$(grep -oE 'model_stages=[^ ]+' "$WORK/produce.out" | sed 's/.*=//')"
check "monitoring_alerts" "$(q 'SELECT count(*) FROM monitoring_alerts')" "$(expected alert_rows)"
check "monitoring_alerts of type drift" "$(q "SELECT count(*) FROM monitoring_alerts WHERE alert_type = 'drift'")" "$(expected drift_alert_rows)"
check "retraining_metrics" "$(q 'SELECT count(*) FROM retraining_metrics')" "$(expected retraining_rows)"
check "retraining_metrics promoted" "$(q 'SELECT count(*) FROM retraining_metrics WHERE promoted')" "$(expected promoted_rows)"
FAILED_KINDS=$FAILED
FAILED=$FAILED_MAIN
echo
echo "-- final model lifecycle"
psql "$DSN" -c "SELECT model_version, model_stage, deployed_at FROM model_metadata ORDER BY created_at, model_version;"
echo "-- retraining decisions"
psql "$DSN" -c "SELECT created_at, shadow_model_version, production_model_version, gate_passed, promoted, shadow_f1_score, production_f1_score FROM retraining_metrics ORDER BY created_at;"
echo
echo "== Common Queries (from the database documentation), on the ingested data"
echo "-- Prediction Volume (Last 24h)"
psql "$DSN" -c "SET TimeZone = 'UTC'; SELECT COUNT(*) FROM prediction_logs WHERE created_at > NOW() - INTERVAL '24 hours';"
echo "-- Label Coverage"
psql "$DSN" -c "SELECT COUNT(ls.prediction_id)::float / COUNT(pl.prediction_id) AS coverage FROM prediction_logs pl LEFT JOIN label_store ls USING (prediction_id);"
echo "-- Model Accuracy (With Labels)"
psql "$DSN" -c "SELECT model_version, AVG((pl.prediction = ls.true_label)::int)::float AS accuracy FROM prediction_logs pl JOIN label_store ls USING (prediction_id) GROUP BY model_version ORDER BY model_version;"
echo "-- Recent Drift Alerts"
psql "$DSN" -c "SELECT created_at, severity, drift_share FROM monitoring_alerts WHERE alert_type = 'drift' ORDER BY created_at DESC LIMIT 10;"
if [ "$FAILED" = 0 ]; then
  echo "main job, predictions and labels: every count matches what was produced."
else
  echo "main job, predictions and labels: MISMATCH between what was produced and what was stored" >&2
fi
if [ "$FAILED_KINDS" = 0 ]; then
  echo "main job, model lifecycle/alerts/retraining: every count matches what was produced."
else
  echo "main job, model lifecycle/alerts/retraining: MISMATCH between what was produced and what was stored" >&2
fi
[ "$FAILED" = 0 ] && [ "$FAILED_KINDS" = 0 ] || exit 1
