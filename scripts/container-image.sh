#!/usr/bin/env bash
# Builds deploy/Dockerfile with podman on a machine that reaches Debian's mirror but no container
# registry (the `container` test tier runs it; it also works on a developer's machine):
#   1. installs podman, runc, uidmap, catatonit (the pause image of `podman kube play`) and
#      debootstrap if they are missing;
#   2. makes the `debian:12` / `debian:12-slim` base the Dockerfile starts FROM with
#      `debootstrap --variant=minbase bookworm`, trimmed like Debian's own slim image, cached as
#      a tarball under $MLOPS_CONTAINER_CACHE (default /var/cache/mlops-ingest) and imported only
#      when podman does not have it yet;
#   3. `podman build` of deploy/Dockerfile (podman's layer cache skips the compile when the
#      sources did not change; a compiler cache under $MLOPS_CONTAINER_CACHE/ccache, mounted
#      into the build stage, makes a source edit recompile only what changed).
# Prints the image name on stdout; everything else goes to stderr. Needs root.
# usage: scripts/container-image.sh [IMAGE]      (default localhost/mlops-ingest:test)
# Podman's defaults do not fit these machines (crun fails on hybrid cgroups, the default
# ulimits are refused): the caller's CONTAINERS_CONF is kept, else one is written here.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
image=${1:-localhost/mlops-ingest:test}
cache=${MLOPS_CONTAINER_CACHE:-/var/cache/mlops-ingest}
log() { echo "container-image: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "needs root (apt-get, debootstrap, podman storage)"; exit 77; }
mkdir -p "$cache"
if [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF=$cache/containers.conf
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$CONTAINERS_CONF"
fi

missing=()
for tool in podman:podman runc:runc newuidmap:uidmap catatonit:catatonit debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null || [ -x "/usr/libexec/podman/${tool%%:*}" ] || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  # A third-party source that cannot be reached must not stop the install from Debian's.
  apt-get update -qq >&2 || log "apt-get update reported errors; installing from what it got"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The Debian mirror apt already uses (an URI ending in /debian): the machine reaches it, whatever
# else it cannot reach.
mirror=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?$' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | awk '{print $2}' | sed -n 1p) || true
mirror=${mirror:-http://deb.debian.org/debian}

base_tar=$cache/debian-12-minbase.tar
if ! podman image exists localhost/debian:12; then
  if [ ! -s "$base_tar" ]; then
    log "debootstrap --variant=minbase bookworm from $mirror (cached in $base_tar)"
    root=$cache/rootfs.tmp
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -n 30 "$cache/debootstrap.log" >&2; exit 1; }
    # What Debian's slim images leave out, now and in every later apt-get install.
    cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/cache/apt/archives/*.deb \
      "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/log/*.log
    tar -C "$root" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
    rm -rf "$root"
  fi
  log "importing $base_tar as debian:12 and debian:12-slim"
  podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$base_tar" localhost/debian:12 >/dev/null
  podman tag localhost/debian:12 localhost/debian:12-slim
fi

log "podman build -f deploy/Dockerfile -t $image"
mkdir -p "$cache/ccache"
podman build --network host --pull=never --build-arg JOBS="${MLOPS_CONTAINER_JOBS:-2}" -v "$cache/ccache:/ccache" \
  -f "$src/deploy/Dockerfile" -t "$image" "$src" >&2
echo "$image"
