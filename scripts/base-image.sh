#!/usr/bin/env bash
# Make `bentoml containerize` work here and behind proxies / without Docker Hub:
#   1. make sure a Docker engine answers (install Debian's docker.io and start
#      dockerd without a bridge when none runs; needs root);
#   2. make sure the base image of BentoML's generated Dockerfile exists: pull it
#      when Docker Hub is reachable, otherwise build a stand-in under the same tag
#      from Debian packages (debootstrap + python3/pip/venv + this host's CA bundle).
# Where Docker Hub is reachable nothing changes: the real image is pulled and used.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-python:3.11-slim}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"     # bookworm's python3 is 3.11
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
HOST_CA_BUNDLE="${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
PULL_TIMEOUT_S="${PULL_TIMEOUT_S:-60}"

say() { echo "base-image: $*" >&2; }
die() { say "error: $*"; exit 1; }

apt_install() {
  [ "$(id -u)" -eq 0 ] || die "need root to apt-get install $*"
  say "installing $* from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

ensure_engine() {
  if docker info >/dev/null 2>&1; then return; fi
  command -v dockerd >/dev/null || apt_install docker.io
  command -v docker >/dev/null || die "no docker client after installing docker.io"
  [ "$(id -u)" -eq 0 ] || die "no Docker engine answers, and starting dockerd needs root"
  say "starting dockerd (no bridge, no iptables; containers use --network host); log: $DOCKERD_LOG"
  # setsid: the engine outlives this script and the make target that ran it. It
  # must not outlive a lock the caller holds, though: `flock /tmp/cpu.lock make test`
  # hands its locked descriptor down, and an engine keeping it holds the lock for
  # as long as it runs. So the engine starts with nothing open past stderr.
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      n="${fd##*/}"
      if [ "$n" -gt 2 ]; then eval "exec $n>&-"; fi
    done
    exec setsid nohup dockerd --bridge=none --iptables=false >"$DOCKERD_LOG" 2>&1 < /dev/null
  ) &
  local dockerd_pid=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    # An unprivileged container cannot run an engine: dockerd exits at once.
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 1
  done
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer (exited, or not within 60s)"
}

build_standin() {
  command -v debootstrap >/dev/null || apt_install debootstrap
  [ -s "$HOST_CA_BUNDLE" ] || die "host CA bundle $HOST_CA_BUNDLE missing"
  local work rootfs
  work="$(mktemp -d)"
  trap "rm -rf '$work'; trap - RETURN" RETURN
  rootfs="$work/rootfs"
  say "building stand-in $BASE_IMAGE: debootstrap --variant=minbase $DEBIAN_SUITE"
  # Its own lines (a few hundred: each package retrieved, unpacked, configured)
  # show a build of a few minutes going on; the log keeps them for a failure.
  debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" 2>&1 | tee "$work/debootstrap.log" >&2 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  # Trust what this host trusts, an intercepting proxy's CA included.
  cp "$HOST_CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV UV_NATIVE_TLS=1' \
    --change 'CMD ["python3"]' \
    - "$BASE_IMAGE" >/dev/null
  say "stand-in $BASE_IMAGE ready ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | numfmt --to=iec))"
}

ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE present"
    return
  fi
  say "pulling $BASE_IMAGE (up to ${PULL_TIMEOUT_S}s)"
  if timeout "$PULL_TIMEOUT_S" docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    say "pulled $BASE_IMAGE from its registry"
    return
  fi
  say "cannot pull $BASE_IMAGE (no registry access): falling back to a local build"
  build_standin
}

ensure_engine
ensure_base_image
