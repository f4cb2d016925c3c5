#!/usr/bin/env bash
# Makes sure Podman is installed (Debian's podman 4.3), so the Podman suite can start its own
# `podman system service` on a private socket and storage. Starts nothing itself.
# Idempotent. Needs root to install: sudo bash scripts/ensure-podman.sh
set -euo pipefail

log() { printf 'ensure-podman: %s\n' "$*" >&2; }

command -v podman >/dev/null 2>&1 && exit 0
[ "$(id -u)" -eq 0 ] || { log "needs root to install podman: sudo bash $0"; exit 1; }
log "apt-get install podman"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null 2>&1 || {
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman >/dev/null
}
log "installed: $(podman --version)"
