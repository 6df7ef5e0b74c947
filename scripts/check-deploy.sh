#!/usr/bin/env bash
# Checks every file in deploy/ the way its tool reads it (run by ctest, tier "unit"):
#   k8s-sidecar.yaml, docker-compose.yml  parsed as YAML; the sidecar's probes, port and scrape
#                                          annotations agree with each other; the probes fit a
#                                          sidecar (none asks /readyz); the securityContext; the
#                                          memory limit; the mounts cannot hide each other
#   k8s-native-sidecar.yaml               is what scripts/k8s-native-sidecar.py makes of
#                                          k8s-sidecar.yaml (the form `podman kube play` cannot play)
#   Dockerfile                            USER is numeric; no config file in the ENTRYPOINT
#   prometheus-rules.yml                   promtool check rules + promtool test rules
#   grafana-dashboard.json                 parsed as JSON; every metric it queries is one /metrics serves
# The systemd unit and the Dockerfile's runtime packages are checked by scripts/test-package.sh
# (the unit needs the installed binary; the packages are compared with the .deb's Depends).
set -euo pipefail
cd "$(dirname "$0")/../deploy"
# Debian's python3 with python3-yaml, whatever else is first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

"$PY" ../scripts/k8s-native-sidecar.py k8s-sidecar.yaml | diff -u k8s-native-sidecar.yaml - \
  || { echo "check-deploy: k8s-native-sidecar.yaml is stale: scripts/k8s-native-sidecar.py > deploy/k8s-native-sidecar.yaml" >&2; exit 1; }
grep -qE '^USER [0-9]+:[0-9]+$' Dockerfile || { echo "check-deploy: the Dockerfile's USER must be numeric (UID:GID)" >&2; exit 1; }
if grep -E '^ENTRYPOINT' Dockerfile | grep -q -- --config; then
  echo "check-deploy: the image must start without a config file (a mount over it would hide it)" >&2; exit 1
fi

promtool check rules prometheus-rules.yml
promtool test rules prometheus-rules.test.yml

"$PY" - <<'PYEOF'
import json, re, sys, yaml

def fail(msg):
    sys.exit("check-deploy: " + msg)

docs = [d for d in yaml.safe_load_all(open("k8s-sidecar.yaml")) if d]
compose = yaml.safe_load(open("docker-compose.yml"))
if "mlops-ingest" not in compose.get("services", {}):
    fail("docker-compose.yml has no mlops-ingest service")

deployment = next(d for d in docs if d.get("kind") == "Deployment")
pod = deployment["spec"]["template"]
sidecar = next(c for c in pod["spec"]["containers"] if c["name"] == "mlops-ingest")
env = {e["name"]: e.get("value") for e in sidecar.get("env", [])}
listen = env.get("MLOPS_INGEST_HTTP_LISTEN", "")
if not listen.startswith("0.0.0.0:"):
    fail("the sidecar must listen on all interfaces for the kubelet and Prometheus, got %r" % listen)
port = int(listen.rsplit(":", 1)[1])
ports = {p["name"]: p["containerPort"] for p in sidecar.get("ports", [])}
notes = pod["metadata"].get("annotations", {})
if notes.get("prometheus.io/scrape") != "true" or int(notes.get("prometheus.io/port", 0)) != port \
        or notes.get("prometheus.io/path") != "/metrics":
    fail("prometheus.io annotations must scrape /metrics on port %d" % port)
if "readinessProbe" in sidecar and sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz":
    fail("the readiness probe must not ask /readyz: pod readiness gates the model server's traffic")
for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
    get = sidecar.get(probe, {}).get("httpGet")
    if not get or get["path"] != "/healthz" or ports.get(get["port"], get["port"]) != port:
        fail("%s must GET /healthz on the HTTP port" % probe)
sec = sidecar.get("securityContext", {})
wanted = {"runAsNonRoot": True, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}
for key, value in wanted.items():
    if sec.get(key) != value:
        fail("securityContext.%s must be %s" % (key, value))
if not isinstance(sec.get("runAsUser"), int) or sec["runAsUser"] == 0:
    fail("securityContext.runAsUser must be a numeric non-root UID")
if sec.get("capabilities", {}).get("drop") != ["ALL"]:
    fail("securityContext.capabilities must drop ALL")
seccomp = sec.get("seccompProfile") or pod["spec"].get("securityContext", {}).get("seccompProfile", {})
if seccomp.get("type") != "RuntimeDefault":
    fail("seccompProfile must be RuntimeDefault")
mounts = [m["mountPath"].rstrip("/") + "/" for m in sidecar.get("volumeMounts", [])]
for a in mounts:
    for b in mounts:
        if a != b and b.startswith(a):
            fail("mount %s hides mount %s" % (a, b))
limit = sidecar.get("resources", {}).get("limits", {}).get("memory", "")
m = re.fullmatch(r"(\d+)(Mi|Gi)", limit)
# The ingester sizes itself from its cgroup's limit (memory_limit_mb = 0); the fault tier proves
# the bound down to 128 MiB (tests/fault/memory_bound_faulttest.cpp). An explicit
# MLOPS_INGEST_MEMORY_LIMIT_MB must fit under the container's limit.
limit_mib = int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1) if m else 0
if limit_mib < 128:
    fail("the memory limit %r is below the smallest proven bound (128Mi, tests/fault/memory_bound_faulttest.cpp)" % limit)
for e in sidecar.get("env", []):
    if e["name"] == "MLOPS_INGEST_MEMORY_LIMIT_MB" and "value" in e and int(e["value"]) > limit_mib:
        fail("MLOPS_INGEST_MEMORY_LIMIT_MB %s is above the container's limit %r" % (e["value"], limit))
grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
if grace <= 10:
    fail("terminationGracePeriodSeconds must exceed shutdown_timeout_ms (10 s)")

served = {
    "mlops_ingest_rows_written_total", "mlops_ingest_duplicates_skipped_total", "mlops_ingest_dead_letters_total",
    "mlops_ingest_messages_consumed_total", "mlops_ingest_consumer_lag_messages", "mlops_ingest_labels_pending",
    "mlops_ingest_labels_pending_oldest_seconds", "mlops_ingest_postgres_up", "mlops_ingest_batch_commit_seconds",
    "mlops_ingest_event_to_commit_seconds", "mlops_ingest_partitions_paused", "process_resident_memory_bytes",
    "mlops_ingest_build_info", "mlops_ingest_table_outage",
}
dash = json.load(open("grafana-dashboard.json"))
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
if not exprs:
    fail("the dashboard has no queries")
for expr in exprs:
    for name in re.findall(r"\b((?:mlops_ingest|process)_[a-z_]+)", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in served and base not in served:
            fail("the dashboard queries %s, which /metrics does not serve" % name)
# Rows stored count each row once: a parked label is counted when it reaches label_store, and a
# dead letter is not a row stored (it has its own panel).
for expr in exprs:
    if "mlops_ingest_rows_written_total" in expr and 'table!~"label_pending|ingest_dead_letters"' not in expr:
        fail("the dashboard counts rows stored without leaving out label_pending and ingest_dead_letters: " + expr)
if not any("mlops_ingest_dead_letters_total" in e and "mlops_ingest_rows_written_total" not in e for e in exprs):
    fail("the dashboard has no panel of its own for dead letters")
rules = yaml.safe_load(open("prometheus-rules.yml"))
# The probes leave a PostgreSQL outage to an alert: it must exist.
if not any(r.get("alert") == "MlopsIngestPostgresDown" and "mlops_ingest_postgres_up" in r["expr"]
           for g in rules["groups"] for r in g["rules"]):
    fail("prometheus-rules.yml has no MlopsIngestPostgresDown alert on mlops_ingest_postgres_up")
for group in rules["groups"]:
    for rule in group["rules"]:
        for name in re.findall(r"\b((?:mlops_ingest|process)_[a-z_]+)", rule["expr"]):
            if name not in served:
                fail("rule %s uses %s, which /metrics does not serve" % (rule["alert"], name))
print("deploy files: YAML, JSON and metric names ok")
PYEOF
