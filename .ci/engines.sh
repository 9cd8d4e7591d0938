#!/usr/bin/env bash
# Prepares real container engines for kstlib's tests on a Debian 12 machine (run as root).
# Idempotent: installs only missing packages, starts dockerd only if its socket does not answer,
# imports the offline test image only where it is absent. Writes nothing outside the repo except
# /tmp/kstlib-dockerd (dockerd's data, exec root, socket and log) and the engines' own image stores
# (Podman: /var/lib/containers). dockerd 20.10 itself also creates /etc/docker/key.json and small
# runtime dirs under /run (containerd shim sockets, /run/docker/plugins); no flag moves those.
# Engines the caller already runs are used as they are: a DOCKER_HOST that answers `docker info`
# (no private dockerd is started, docker.io is not installed), and a Podman that works with the
# CONTAINERS_CONF the caller gave (podman and runc are not installed); the test image is imported
# there if absent. Given but not working is an error, not a silent switch to an engine the tests
# would then not use. Nothing given: the repo's containers.conf and a private dockerd, as always.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="localhost/kstlib-busybox:latest"
DOCKERD_DIR=/tmp/kstlib-dockerd
DOCKER_SOCK="$DOCKERD_DIR/docker.sock"
DOCKERD_LOG="$DOCKERD_DIR/dockerd.log"
PRIVATE_DOCKER_HOST="unix://$DOCKER_SOCK"
# The caller's engines, if any: a DOCKER_HOST other than our private daemon's, a CONTAINERS_CONF.
CALLER_DOCKER_HOST=""
if [ -n "${DOCKER_HOST:-}" ] && [ "$DOCKER_HOST" != "$PRIVATE_DOCKER_HOST" ]; then CALLER_DOCKER_HOST="$DOCKER_HOST"; fi
CALLER_CONTAINERS_CONF="${CONTAINERS_CONF:-}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO/.ci/containers.conf}"
export DOCKER_HOST="${CALLER_DOCKER_HOST:-$PRIVATE_DOCKER_HOST}"

mkdir -p "$DOCKERD_DIR"
log() { printf '[engines] %s\n' "$*"; }
die() { printf '[engines] error: %s\n' "$*" >&2; exit 1; }

docker_ok() { docker info >/dev/null 2>&1; }
podman_ok() { podman info >/dev/null 2>&1; }
reuse_docker=false
reuse_podman=false
if [ -n "$CALLER_DOCKER_HOST" ] && docker_ok; then reuse_docker=true; fi
if [ -n "$CALLER_CONTAINERS_CONF" ] && podman_ok; then reuse_podman=true; fi

# --- packages --------------------------------------------------------------------------------
# docker-registry: the pull tests serve images from a registry on 127.0.0.1 (test/integration/pull.test.ts)
wanted=(tmux busybox-static openssh-server openssh-client docker-registry)
$reuse_podman || wanted+=(podman runc)
$reuse_docker || wanted+=(docker.io)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # With recommends, as verified here: podman then brings netavark, fuse-overlayfs and catatonit.
  apt-get install -y -q "${missing[@]}"
else
  log "packages present: ${wanted[*]}"
fi

# --- podman ----------------------------------------------------------------------------------
# Checked after the packages: a caller's setting may have lacked only the binary.
if [ -n "$CALLER_CONTAINERS_CONF" ]; then
  podman_ok || die "podman does not work with CONTAINERS_CONF=$CALLER_CONTAINERS_CONF (podman info fails); unset it to use $REPO/.ci/containers.conf"
  log "podman: using the caller's setup (CONTAINERS_CONF=$CONTAINERS_CONF)"
fi

# --- dockerd ---------------------------------------------------------------------------------
if [ -n "$CALLER_DOCKER_HOST" ]; then
  docker_ok || die "DOCKER_HOST=$CALLER_DOCKER_HOST does not answer \`docker info\`; start that daemon, or unset DOCKER_HOST to get a private dockerd on $DOCKER_SOCK"
  log "docker: using the caller's daemon (DOCKER_HOST=$DOCKER_HOST); no private dockerd"
elif docker_ok; then
  log "dockerd already answering on $DOCKER_SOCK"
else
  mkdir -p "$DOCKERD_DIR/data" "$DOCKERD_DIR/exec"
  pidfile="$DOCKERD_DIR/exec/dockerd.pid"
  oldpid="$(cat "$pidfile" 2>/dev/null || true)"
  if [ -n "$oldpid" ] && kill -0 "$oldpid" 2>/dev/null; then
    log "dockerd (pid $oldpid) is running but not answering yet; waiting for it"
  else
    # A dead daemon leaves its pid file and socket behind; dockerd refuses to start over them.
    rm -f "$pidfile" "$DOCKER_SOCK"
    log "starting dockerd (log: $DOCKERD_LOG)"
    # vfs: works on any filesystem; no iptables: no network setup needed; own roots, pid file,
    # socket and containerd namespaces so a system docker (or its containerd) is never touched.
    # setsid: the daemon outlives this script's process group.
    setsid nohup dockerd --storage-driver=vfs --iptables=false \
      --data-root="$DOCKERD_DIR/data" --exec-root="$DOCKERD_DIR/exec" --pidfile="$pidfile" \
      --containerd-namespace=kstlib --containerd-plugins-namespace=kstlib-plugins \
      -H "unix://$DOCKER_SOCK" >>"$DOCKERD_LOG" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    docker_ok && break
    sleep 1
  done
  if ! docker_ok; then
    log "dockerd did not answer within 60 s; last lines of $DOCKERD_LOG:"
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
  log "dockerd answering on $DOCKER_SOCK"
fi

# --- test image (offline: a busybox-static rootfs) -------------------------------------------
rootfs_tar=""
build_rootfs() {
  [ -n "$rootfs_tar" ] && return 0
  local work
  work="$(mktemp -d "$DOCKERD_DIR/rootfs.XXXXXX")"
  local root="$work/root"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev" "$root/var/log"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  rootfs_tar="$work/rootfs.tar"
  tar -C "$root" -cf "$rootfs_tar" .
}

if podman image exists "$IMAGE" 2>/dev/null; then
  log "podman: $IMAGE present"
else
  build_rootfs
  log "podman: importing $IMAGE"
  podman import --quiet --change 'CMD ["sh"]' --change 'ENV PATH=/bin' "$rootfs_tar" "$IMAGE" >/dev/null
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "docker: $IMAGE present"
else
  build_rootfs
  log "docker: importing $IMAGE"
  docker import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' "$rootfs_tar" "$IMAGE" >/dev/null
fi

if [ -n "$rootfs_tar" ]; then rm -rf "$(dirname "$rootfs_tar")"; fi
log "ready: podman (CONTAINERS_CONF=$CONTAINERS_CONF), docker (DOCKER_HOST=$DOCKER_HOST), image $IMAGE"
