#!/usr/bin/env bash
# Rootless Podman for the rootless suite: a dedicated user (dynabox-rootless) with subordinate
# uid/gid ranges, Debian's uidmap and slirp4netns, and `podman system service` run as that user
# with its storage, runtime folder (XDG_RUNTIME_DIR) and socket under FOLDER.
#   sudo bash scripts/rootless-podman.sh ensure          # installs and creates what is missing
#   sudo bash scripts/rootless-podman.sh start FOLDER    # prints the socket path when it answers
#   sudo bash scripts/rootless-podman.sh stop FOLDER     # stops the service and its pause process
# Idempotent. The user and its ranges stay (as an installed package does); nothing else does.
set -euo pipefail

log() { printf 'rootless-podman: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

user=dynabox-rootless
action="${1:-}"; folder="${2:-}"
[ "$(id -u)" -eq 0 ] || die "needs root (a user, subordinate ids): sudo bash $0 $*"

ensure() {
  command -v podman >/dev/null 2>&1 || bash "$(dirname "$0")/ensure-podman.sh"
  if ! command -v newuidmap >/dev/null 2>&1 || ! command -v slirp4netns >/dev/null 2>&1; then
    log "apt-get install uidmap slirp4netns"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends uidmap slirp4netns >/dev/null 2>&1 || {
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends uidmap slirp4netns >/dev/null
    }
  fi
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$user"
  # useradd adds ranges on Debian; a user made otherwise gets one here.
  grep -q "^$user:" /etc/subuid || echo "$user:300000:65536" >>/etc/subuid
  grep -q "^$user:" /etc/subgid || echo "$user:300000:65536" >>/etc/subgid
}

case "$action" in
ensure) ensure ;;
start)
  [ -n "$folder" ] || die "usage: $0 start FOLDER"
  ensure
  mkdir -p "$folder/xdg" "$folder/storage" "$folder/run"
  chown -R "$user:" "$folder"
  chmod 700 "$folder/xdg"
  socket="$folder/podman.sock"
  if [ -f "$folder/service.pid" ] && kill -0 "$(cat "$folder/service.pid")" 2>/dev/null && [ -S "$socket" ]; then echo "$socket"; exit 0; fi
  # In a session of its own: podman re-executes itself inside its user namespace, and stop ends
  # the whole process group (service, re-executed child, the pause process it keeps).
  setsid runuser -u "$user" -- env HOME="$(getent passwd "$user" | cut -d: -f6)" XDG_RUNTIME_DIR="$folder/xdg" \
    podman --root "$folder/storage" --runroot "$folder/run" --storage-driver overlay system service --time=0 "unix://$socket" \
    >"$folder/service.log" 2>&1 </dev/null &
  echo $! >"$folder/service.pid"
  for _ in $(seq 1 60); do
    if [ -S "$socket" ] && curl -fsS --max-time 3 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then echo "$socket"; exit 0; fi
    sleep 0.5
  done
  die "the rootless service did not answer within 30 s; tail of $folder/service.log: $(tail -n 5 "$folder/service.log" | tr '\n' ' ')"
  ;;
stop)
  [ -n "$folder" ] || die "usage: $0 stop FOLDER"
  if [ -f "$folder/service.pid" ]; then
    group="$(cat "$folder/service.pid")"
    kill -- "-$group" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.5; done
    kill -9 -- "-$group" 2>/dev/null || true
  fi
  # The pause process holding the user namespace (it leaves the group: setsid of its own).
  pause="$folder/xdg/libpod/tmp/pause.pid"
  if [ -f "$pause" ] && kill -0 "$(cat "$pause")" 2>/dev/null; then kill -9 "$(cat "$pause")" 2>/dev/null || true; fi
  exit 0
  ;;
*) die "usage: $0 ensure | start FOLDER | stop FOLDER" ;;
esac
