#!/usr/bin/env bash
# Makes sure Debian's chromium is installed at /usr/bin/chromium: the report's browser test drives
# it with playwright-core (a browser download is impossible where only Debian's mirror answers).
# Idempotent: does nothing when the browser is there and starts. Needs root to install:
# sudo bash scripts/ensure-chromium.sh
set -euo pipefail

log() { printf 'ensure-chromium: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

browser=/usr/bin/chromium

run_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (re-run as root: sudo bash $0)"
  fi
}

browser_starts() { timeout 60 "$browser" --headless --no-sandbox --disable-gpu --version >/dev/null 2>&1; }

if [ -x "$browser" ] && browser_starts; then
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install Debian's chromium (at $browser) with your package manager"
log "apt-get update"
run_as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
# Waits for another apt-get (a shared machine) rather than failing on its lock.
# Fonts so that the report's text renders in screenshots; no recommends keeps it small.
log "apt-get install chromium fonts-dejavu-core"
run_as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null

[ -x "$browser" ] || die "chromium installed but $browser is missing"
browser_starts || die "$browser does not start: $("$browser" --headless --no-sandbox --version 2>&1 | tail -n 3 | tr '\n' ' ')"
log "ready: $("$browser" --version 2>/dev/null || echo chromium)"
