#!/usr/bin/env bash
# Makes sure a Docker engine answers and debootstrap is installed (dynabox bootstraps its base
# image with it where no registry answers). Idempotent: safe to run twice, or while dockerd starts.
# Needs root for what it installs or starts: sudo bash scripts/ensure-docker.sh
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

run_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (re-run as root: sudo bash $0)"
  fi
}

apt_updated=no
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* with your package manager"
  if [ "$apt_updated" = no ]; then
    log "apt-get update"
    run_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=yes
  fi
  log "apt-get install $*"
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || [ -x /sbin/debootstrap ]
}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

if ! have_debootstrap; then
  apt_install debootstrap
fi

if command -v docker >/dev/null 2>&1 && engine_answers; then
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]; then
  die "DOCKER_HOST=${DOCKER_HOST} does not answer; starting a local engine would not help. Start that engine, or unset DOCKER_HOST."
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  apt_install docker.io
fi

dockerd_running() {
  [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null
}

if dockerd_running; then
  log "dockerd is already starting (pid $(cat /var/run/docker.pid)); waiting for it"
elif command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  log "systemctl start docker"
  run_as_root systemctl start docker
else
  log_file=/var/log/dockerd.log
  run_as_root touch "$log_file" 2>/dev/null || log_file=/tmp/dockerd.log
  log "starting dockerd in the background (log: $log_file)"
  run_as_root bash -c "nohup dockerd >>'$log_file' 2>&1 </dev/null &"
fi

for _ in $(seq 1 60); do
  if engine_answers; then
    log "engine ready: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo up)"
    exit 0
  fi
  sleep 1
done
die "dockerd did not answer within 60 s; see ${log_file:-the dockerd log} (tail: $(tail -n 3 "${log_file:-/dev/null}" 2>/dev/null | tr '\n' ' '))"
