#!/usr/bin/env bash
# Starts (or stops) an OpenSSH server for the ssh:// engine tests: on 127.0.0.1:PORT only, with
# the host key FOLDER/host_key and the client keys of FOLDER/authorized_keys (both made by the
# test), public-key login only, and DOCKER_HOST set for the sessions so that the remote side of
# `docker system dial-stdio` reaches the engine the test names. Debian's own ssh service and its
# config are not touched.
#   sudo bash scripts/local-sshd.sh start FOLDER PORT DOCKER_HOST   # returns when it answers
#   sudo bash scripts/local-sshd.sh stop FOLDER                     # stops it (the test removes FOLDER)
# Idempotent: start on a running server does nothing; stop on a stopped one does nothing.
set -euo pipefail

log() { printf 'local-sshd: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

action="${1:-}"; folder="${2:-}"
[ -n "$action" ] && [ -n "$folder" ] || die "usage: $0 start FOLDER PORT DOCKER_HOST | stop FOLDER"
[ "$(id -u)" -eq 0 ] || die "needs root (sshd): sudo bash $0 $*"
pidfile="$folder/sshd.pid"
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$action" in
start)
  port="${3:-}"; docker_host="${4:-}"
  [[ "$port" =~ ^[0-9]{1,5}$ ]] || die "PORT must be a port number"
  [ -n "$docker_host" ] || die "DOCKER_HOST is missing, e.g. unix:///var/run/docker.sock"
  [ -x /usr/sbin/sshd ] || die "sshd is missing: sudo bash scripts/ensure-sshd.sh"
  [ -f "$folder/host_key" ] && [ -f "$folder/authorized_keys" ] || die "$folder needs host_key and authorized_keys"
  if running; then exit 0; fi
  cat >"$folder/sshd_config" <<CONFIG
Port $port
ListenAddress 127.0.0.1
HostKey $folder/host_key
PidFile $pidfile
AuthorizedKeysFile $folder/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
SetEnv DOCKER_HOST=$docker_host
CONFIG
  # The privilege-separation folder Debian's service would make.
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  /usr/sbin/sshd -t -f "$folder/sshd_config" || die "the sshd config in $folder is not accepted"
  /usr/sbin/sshd -f "$folder/sshd_config" -E "$folder/sshd.log"
  for _ in $(seq 1 30); do
    if running && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then exit 0; fi
    sleep 0.5
  done
  die "sshd did not answer on 127.0.0.1:$port; tail of $folder/sshd.log: $(tail -n 5 "$folder/sshd.log" 2>/dev/null | tr '\n' ' ')"
  ;;
stop)
  if running; then
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  exit 0
  ;;
*) die "usage: $0 start FOLDER PORT DOCKER_HOST | stop FOLDER" ;;
esac
