#!/usr/bin/python3
"""Prints deploy/k8s-sidecar.yaml made playable by `podman kube play --network host` on a test
machine (scripts/test-container.sh), changing only what must change there:
  - one replica; `ports:` dropped (host networking) and the probes' named port made a number;
  - the ConfigMap's brokers and group point at the test's broker (the sidecar must read them
    from the mounted file to reach it); the HTTP port is the test's (KUBE_PORT);
  - the images: KUBE_IMAGE for mlops-ingest, a shell loop in KUBE_STANDIN for the model server;
  - a stand-in CA ConfigMap (mlops-db-ca), mounted beside the config.
Environment: KUBE_BROKERS, KUBE_PORT, KUBE_IMAGE, KUBE_STANDIN.
"""
import os
import re
import sys

import yaml

env = os.environ
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for doc in docs:
    if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "mlops-ingest-config":
        conf = doc["data"]["mlops-ingest.conf"]
        conf = re.sub(r"(?m)^brokers = .*$", "brokers = " + env["KUBE_BROKERS"], conf)
        conf = re.sub(r"(?m)^group = .*$", "group = credit-model", conf)
        doc["data"]["mlops-ingest.conf"] = conf
    if doc["kind"] == "Deployment":
        doc["spec"]["replicas"] = 1
        pod = doc["spec"]["template"]["spec"]
        for c in pod["containers"]:
            c.pop("ports", None)
            if c["name"] == "mlops-ingest":
                c["image"] = env["KUBE_IMAGE"]
                for e in c["env"]:
                    if e["name"] == "MLOPS_INGEST_HTTP_LISTEN":
                        e["value"] = "127.0.0.1:" + env["KUBE_PORT"]
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if probe in c:
                        c[probe]["httpGet"]["port"] = int(env["KUBE_PORT"])
            else:
                c["image"] = env["KUBE_STANDIN"]
                c["command"] = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mlops-db-ca"},
             "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n"}})
yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
