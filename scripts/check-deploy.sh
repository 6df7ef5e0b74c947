#!/usr/bin/env bash
# Checks every file in deploy/ the way its tool reads it (run by ctest, tier "unit"):
#   k8s-sidecar.yaml, docker-compose.yml  parsed as YAML; the sidecar's probes, port and scrape
#                                          annotations agree with each other
#   prometheus-rules.yml                   promtool check rules + promtool test rules
#   grafana-dashboard.json                 parsed as JSON; every metric it queries is one /metrics serves
# The systemd unit and the Dockerfile's runtime packages are checked by scripts/test-package.sh
# (the unit needs the installed binary; the packages are compared with the .deb's Depends).
set -euo pipefail
cd "$(dirname "$0")/../deploy"
# Debian's python3 with python3-yaml, whatever else is first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

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
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    get = sidecar.get(probe, {}).get("httpGet")
    if not get or get["path"] != path:
        fail("%s must GET %s" % (probe, path))
    if ports.get(get["port"], get["port"]) != port:
        fail("%s port does not match MLOPS_INGEST_HTTP_LISTEN" % probe)
notes = pod["metadata"].get("annotations", {})
if notes.get("prometheus.io/scrape") != "true" or int(notes.get("prometheus.io/port", 0)) != port \
        or notes.get("prometheus.io/path") != "/metrics":
    fail("prometheus.io annotations must scrape /metrics on port %d" % port)
grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
if grace <= 10:
    fail("terminationGracePeriodSeconds must exceed shutdown_timeout_ms (10 s)")

served = {
    "mlops_ingest_rows_written_total", "mlops_ingest_duplicates_skipped_total", "mlops_ingest_dead_letters_total",
    "mlops_ingest_messages_consumed_total", "mlops_ingest_consumer_lag_messages", "mlops_ingest_labels_pending",
    "mlops_ingest_labels_pending_oldest_seconds", "mlops_ingest_postgres_up", "mlops_ingest_batch_commit_seconds",
    "mlops_ingest_event_to_commit_seconds", "mlops_ingest_partitions_paused", "process_resident_memory_bytes",
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
rules = yaml.safe_load(open("prometheus-rules.yml"))
for group in rules["groups"]:
    for rule in group["rules"]:
        for name in re.findall(r"\b((?:mlops_ingest|process)_[a-z_]+)", rule["expr"]):
            if name not in served:
                fail("rule %s uses %s, which /metrics does not serve" % (rule["alert"], name))
print("deploy files: YAML, JSON and metric names ok")
PYEOF
