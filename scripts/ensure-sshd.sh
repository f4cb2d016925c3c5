#!/usr/bin/env bash
# Makes sure Debian's openssh-server is installed, so the ssh:// engine suite can start its own
# sshd on a loopback port with its own host key and config. The package's own service is left
# stopped (nothing listens on port 22 because of this script).
# Idempotent. Needs root to install: sudo bash scripts/ensure-sshd.sh
set -euo pipefail

log() { printf 'ensure-sshd: %s\n' "$*" >&2; }

[ -x /usr/sbin/sshd ] && exit 0
[ "$(id -u)" -eq 0 ] || { log "needs root to install openssh-server: sudo bash $0"; exit 1; }
log "apt-get install openssh-server"
# No service may start at install time (policy-rc.d refuses): the tests start their own sshd.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=true; fi
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null; }
install 2>/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq; install; }
if $created_policy; then rm -f "$policy"; fi
log "installed: $(/usr/sbin/sshd -V 2>&1 | head -n 1)"
