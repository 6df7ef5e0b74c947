#!/usr/bin/env bash
# The container tier (ctest label "container"; needs root, exits 77 = skipped otherwise):
#   1. builds deploy/Dockerfile with podman (scripts/container-image.sh: installs podman & co.,
#      a cached debootstrap base, the image);
#   2. `podman run`s the image (non-root, all capabilities dropped, no new privileges) against a
#      throwaway PostgreSQL and the embedded broker: /readyz, events streamed while it runs, the
#      exact end state (rows, no duplicates, offsets stored), nothing written to its root
#      filesystem, SIGTERM -> exit 0 with the summary line;
#   3. `podman kube play`s deploy/k8s-sidecar.yaml (transformed for this machine: host network,
#      the test's broker, one replica, a stand-in model server), with a Secret for the DSN and a
#      CA ConfigMap mounted beside the config: the sidecar starts from the mounted config with a
#      read-only root filesystem, becomes ready, stores events, and stops with exit 0.
# usage: scripts/test-container.sh BUILD_DIR   (its mlops-ingest runs the broker and the producer)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "test-container: needs root (apt-get, podman); skipped"; exit 77; }
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
BIN=$build/mlops-ingest
fail() { echo "test-container: FAILED: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d /tmp/mlops-container-XXXXXX)
chmod 755 "$work"
export CONTAINERS_CONF=$work/containers.conf
printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$CONTAINERS_CONF"
tag=$(basename "$work" | tr 'A-Z' 'a-z')
broker_pid=
cleanup() {
  set +e
  podman rm -f -t 0 "$tag" >/dev/null 2>&1
  [ -f "$work/kube.yaml" ] && podman kube down "$work/kube.yaml" >/dev/null 2>&1
  podman secret rm mlops-ingest-db >/dev/null 2>&1
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  "$src/scripts/pg-throwaway.sh" stop "$work/pg" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

image=$("$src/scripts/container-image.sh" localhost/mlops-ingest:test)
echo "== image $image: $(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
[ "$(podman image inspect --format '{{.Config.User}}' "$image")" = 10001:10001 ] || fail "the image's USER is not 10001:10001"

echo "== PostgreSQL and the embedded broker"
pg_port=$(free_port)
admin=$("$src/scripts/pg-throwaway.sh" start "$work/pg" "$pg_port")
psql -q "$admin" -c "CREATE DATABASE mlops"
dsn="host=127.0.0.1 port=$pg_port user=postgres dbname=mlops"
"$BIN" dev-broker --partitions 4 --topics predictions,labels,models,alerts,retraining >"$work/broker.out" 2>"$work/broker.log" &
broker_pid=$!
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
brokers=$(head -n 1 "$work/broker.out")
[ -n "$brokers" ] || { cat "$work/broker.log" >&2; fail "the embedded broker did not start"; }
"$BIN" schema apply --pg "$dsn" >/dev/null

q() { psql -tAq "$dsn" -c "$1"; }
wait_http() {  # URL SECONDS: until it answers 200
  for _ in $(seq $(($2 * 5))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
    sleep 0.2
  done
  return 1
}
# Produces N predictions (some duplicated, some malformed) and their labels, then waits until the
# database holds exactly what was produced for GROUP: rows, no duplicates, offsets stored. The
# optional counts are what the tables and the topics held before (a new group reads the topics
# from their start, so what an earlier group stored is skipped as duplicates).
stream_and_check() {  # GROUP N SEED [ROWS_BEFORE LABELS_BEFORE PREDICTIONS_SENT LABELS_SENT]
  local out=$work/produce-$1.out
  "$BIN" produce --brokers "$brokers" --predictions "$2" --seed "$3" --label-ratio 0.8 \
    --early-label-ratio 0.05 --duplicate-ratio 0.01 --invalid-ratio 0.001 >"$out"
  want() { grep -oE "(^| )$1=[0-9]+" "$out" | sed -E 's/.*=//'; }
  local predictions=$(( $(want unique_predictions) + ${4:-0} )) labels=$(( $(want unique_labels) + ${5:-0} ))
  local sent_p=$(( $(want predictions_sent) + ${6:-0} )) sent_l=$(( $(want labels_sent) + ${7:-0} ))
  local state= wanted="$predictions|$labels|0|$sent_p|$sent_l"
  for _ in $(seq 300); do
    state=$(q "SELECT (SELECT count(*) FROM prediction_logs) || '|' || (SELECT count(*) FROM label_store) || '|' ||
                      (SELECT count(*) FROM label_pending) || '|' ||
                      (SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets WHERE consumer_group = '$1' AND topic = 'predictions') || '|' ||
                      (SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets WHERE consumer_group = '$1' AND topic = 'labels')")
    [ "$state" = "$wanted" ] && break
    sleep 0.2
  done
  [ "$state" = "$wanted" ] || fail "group $1: rows|labels|pending|offsets predictions|offsets labels = $state, expected $wanted"
  [ "$(q 'SELECT count(*) - count(DISTINCT prediction_id) FROM prediction_logs')" = 0 ] || fail "duplicate predictions stored"
  echo "   stored exactly once: $state"
}
# The kill signal's outcome: exit 0 and the summary line in the container's log.
expect_clean_exit() {  # CONTAINER
  local code
  code=$(podman inspect --format '{{.State.ExitCode}}' "$1")
  podman logs "$1" >"$work/$1.log" 2>&1
  [ "$code" = 0 ] || { tail -n 20 "$work/$1.log" >&2; fail "$1 exited $code after SIGTERM"; }
  grep -q 'summary: messages' "$work/$1.log" || fail "$1 logged no summary line"
  echo "   exit 0, $(grep -o 'summary: messages [0-9]*' "$work/$1.log" | tail -n 1)"
}

echo "== podman run (non-root, no capabilities, no new privileges)"
http_port=$(free_port)
podman run -d --name "$tag" --network host --cap-drop ALL --security-opt no-new-privileges \
  -e MLOPS_INGEST_BROKERS="$brokers" -e MLOPS_INGEST_PG="$dsn" -e MLOPS_INGEST_GROUP=container-run \
  -e MLOPS_INGEST_HTTP_LISTEN="127.0.0.1:$http_port" "$image" >/dev/null
wait_http "http://127.0.0.1:$http_port/readyz" 60 || { podman logs "$tag" >&2; fail "/readyz never answered 200"; }
stream_and_check container-run 20000 7
# Writes would show in the container's layer (/etc/hosts and the like are podman's own mounts).
changes=$(podman diff "$tag" | grep -vE ' /(etc|run)$| /(etc/hosts|etc/resolv.conf|etc/hostname|run/.containerenv)$' || true)
[ -z "$changes" ] || fail "the ingester wrote to its root filesystem: $changes"
podman stop -t 30 "$tag" >/dev/null
expect_clean_exit "$tag"
podman rm "$tag" >/dev/null

echo "== podman run with a memory limit the settings cannot fit under"
# The ingester reads the container's cgroup limit (memory_limit_mb = 0) and refuses to start
# rather than let the OOM killer decide later: exit 2, the numbers named.
set +e
podman run --rm --network host --memory 40m -e MLOPS_INGEST_BROKERS="$brokers" -e MLOPS_INGEST_PG="$dsn" \
  -e MLOPS_INGEST_HTTP_LISTEN= "$image" >"$work/small.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$work/small.log" >&2; fail "a 40m container exited $rc, not 2"; }
grep -qE "memory limit is [0-9.]+ MiB \(.*memory" "$work/small.log" || { cat "$work/small.log" >&2; fail "the refusal does not name the cgroup limit"; }
echo "   exit 2: $(grep -oE 'the settings need [0-9.]+ MiB but the memory limit is [0-9.]+ MiB' "$work/small.log")"

echo "== podman kube play deploy/k8s-sidecar.yaml"
kube_port=$(free_port)
# podman 4.3's secretKeyRef reads a podman secret holding {"key": "base64 of the value"}.
printf '{"dsn": "%s"}' "$(printf %s "$dsn" | base64 -w 0)" | podman secret create mlops-ingest-db - >/dev/null
KUBE_BROKERS=$brokers KUBE_PORT=$kube_port KUBE_IMAGE=$image KUBE_STANDIN=localhost/debian:12 \
  /usr/bin/python3 "$src/scripts/k8s-for-podman.py" "$src/deploy/k8s-sidecar.yaml" >"$work/kube.yaml"
if ! podman kube play --network host "$work/kube.yaml" >"$work/play.log" 2>&1; then
  cat "$work/play.log" >&2
  for c in $(podman ps -a --format '{{.Names}}' | grep -- '-mlops-ingest$'); do podman logs "$c" >&2; done
  fail "podman kube play"
fi
pod=$(podman pod ps --format '{{.Name}}' --filter label=app=credit-model | head -n 1)
sidecar=$(podman ps -a --pod --format '{{.Names}} {{.PodName}}' | awk -v p="$pod" '$2 == p && $1 ~ /mlops-ingest$/ {print $1}')
[ -n "$sidecar" ] || { podman ps -a --pod >&2; fail "no mlops-ingest container in pod $pod"; }
wait_http "http://127.0.0.1:$kube_port/readyz" 60 || { podman logs "$sidecar" >&2; fail "the sidecar's /readyz never answered 200"; }
# Both mounts are there: the config did not hide the CA or the other way round.
podman exec "$sidecar" test -s /etc/mlops-ingest/config/mlops-ingest.conf || fail "the config is not mounted"
podman exec "$sidecar" test -s /etc/mlops-ingest/tls/ca.crt || fail "the CA is not mounted"
[ "$(podman exec "$sidecar" id -u)" = 10001 ] || fail "the sidecar does not run as 10001"
[ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$sidecar")" = true ] || fail "the root filesystem is not read-only"
if podman exec "$sidecar" touch /usr/local/bin/probe 2>/dev/null; then fail "the root filesystem is writable"; fi
# capabilities.drop [ALL] and allowPrivilegeEscalation: false, as the kernel sees the process.
# (A non-root process has no effective capabilities anyway: the bounding set shows the drop.)
status=$(podman exec "$sidecar" cat /proc/1/status)
grep -qE '^Name:\s+mlops-ingest$' <<<"$status" || fail "PID 1 of the sidecar is not mlops-ingest"
grep -qE '^CapBnd:\s+0+$' <<<"$status" || fail "the sidecar keeps capabilities: $(grep CapBnd <<<"$status")"
grep -qE '^NoNewPrivs:\s+1$' <<<"$status" || fail "the sidecar may gain privileges (NoNewPrivs is not 1)"
grep -qE '^Seccomp:\s+2$' <<<"$status" || fail "no seccomp filter applies to the sidecar (RuntimeDefault)"
# The bound comes from the container's limit (256Mi minus an eighth), read from the cgroup.
# (Read into a file first: `podman logs | grep -q` under pipefail fails when grep exits early.)
podman logs "$sidecar" >"$work/sidecar-start.log" 2>&1
grep -qE 'memory bound 224(\.0)? MiB \(.*memory' "$work/sidecar-start.log" \
  || { grep -i memory "$work/sidecar-start.log" >&2; fail "the sidecar did not size itself from its 256Mi cgroup limit"; }
# Static membership from the downward API: the member id is the pod's name.
[ "$(podman exec "$sidecar" printenv MLOPS_INGEST_GROUP_INSTANCE_ID)" = "$pod" ] \
  || fail "MLOPS_INGEST_GROUP_INSTANCE_ID is not the pod's name ($pod)"
sent() { grep -oE "(^| )$1=[0-9]+" "$work/produce-container-run.out" | sed -E 's/.*=//'; }
stream_and_check credit-model 20000 8 "$(q 'SELECT count(*) FROM prediction_logs')" \
  "$(q 'SELECT count(*) FROM label_store')" "$(sent predictions_sent)" "$(sent labels_sent)"
# (podman without systemd logs errors about healthcheck timers it never made: not ours.)
podman pod stop -t 30 "$pod" >/dev/null 2>>"$work/podman.log"
expect_clean_exit "$sidecar"
podman kube down "$work/kube.yaml" >/dev/null 2>>"$work/podman.log"
echo "test-container: ok"
