#!/usr/bin/env bash
# Installs the Debian 12 packages mlops-ingest needs to build, test and run its main job.
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev libsimdjson-dev libboost-dev libpq-dev      # the design card's libraries
  prometheus-cpp-dev                                         # /metrics: metric model and text format
  googletest libgtest-dev libbenchmark-dev                   # tests and benchmarks
  postgresql postgresql-client                               # throwaway servers for tests and the main job
  pgbouncer                                                  # transaction-pooling tests and bench (PGBOUNCER=1)
  kcat                                                       # an independent Kafka client for tests
  prometheus                                                 # promtool: checks /metrics and the alert rules
  python3 python3-yaml                                       # scripts/check-deploy.sh reads the YAML deploy files
  dpkg-dev file systemd                                      # the .deb: dpkg-shlibdeps (CPack), systemd-analyze verify
  openssl                                                    # test certificates (TLS tests)
  gnuplot-nox                                                # loadtest --report charts
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
