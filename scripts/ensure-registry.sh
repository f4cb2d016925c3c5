#!/usr/bin/env bash
# Makes sure Debian's docker-registry (the Distribution registry 2.8) is installed, so the
# image-registry suite can start its own registry on a loopback port (scripts/local-registry.sh).
# The package's own service is left stopped: the tests start theirs with their own config.
# Idempotent. Needs root to install: sudo bash scripts/ensure-registry.sh
set -euo pipefail

log() { printf 'ensure-registry: %s\n' "$*" >&2; }

command -v docker-registry >/dev/null 2>&1 && exit 0
[ "$(id -u)" -eq 0 ] || { log "needs root to install docker-registry: sudo bash $0"; exit 1; }
log "apt-get install docker-registry"
# No service may start at install time (policy-rc.d refuses): the tests start their own.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=true; fi
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null; }
install 2>/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq; install; }
if $created_policy; then rm -f "$policy"; fi
log "installed: $(docker-registry --version 2>&1 | head -n 1)"
