#!/usr/bin/env bash
# Starts (or stops) an image registry for the image-registry tests: Debian's docker-registry
# (Distribution 2.8) with its storage under FOLDER, listening on 127.0.0.1:PORT, where the host's
# engine pushes (Docker trusts plain HTTP on loopback). With NAMESPACE and ADDRESS, the network
# namespace of an extra engine (scripts/extra-dockerd.sh) gets a veth link to the host, the host
# side ADDRESS/30 and the namespace side ADDRESS+1, and a second registry process over the same
# storage listens on ADDRESS:PORT, so the engine in that namespace pulls over a real link (it
# needs --insecure-registry ADDRESS:PORT, which the test passes to extra-dockerd.sh).
#   sudo bash scripts/local-registry.sh start NAME FOLDER PORT [NAMESPACE ADDRESS]
#        prints "127.0.0.1:PORT" and, with a namespace, "ADDRESS:PORT" when they answer
#   sudo bash scripts/local-registry.sh stop NAME FOLDER   # stops both, removes the link and FOLDER
# Idempotent: start on a running registry only prints its addresses; stop on a stopped one only cleans.
set -euo pipefail

log() { printf 'local-registry: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

action="${1:-}"; name="${2:-}"; folder="${3:-}"
[ -n "$action" ] && [ -n "$name" ] && [ -n "$folder" ] || die "usage: $0 start NAME FOLDER PORT [NAMESPACE ADDRESS] | stop NAME FOLDER"
[[ "$name" =~ ^[a-z0-9]{1,10}$ ]] || die "NAME must be 1-10 of a-z, 0-9 (it names network links)"
[ "$(id -u)" -eq 0 ] || die "needs root (network links): sudo bash $0 $*"
link="dbr-$name"

pid_running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
answers() { curl -fsS --max-time 3 "http://$1/v2/" >/dev/null 2>&1; }

serve() { # serve LABEL ADDRESS:PORT
  local label="$1" listen="$2"
  cat >"$folder/$label.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $folder/data
  delete:
    enabled: false
http:
  addr: $listen
CONFIG
  if pid_running "$folder/$label.pid" && answers "$listen"; then return 0; fi
  nohup docker-registry serve "$folder/$label.yml" >"$folder/$label.log" 2>&1 </dev/null &
  echo $! >"$folder/$label.pid"
  for _ in $(seq 1 30); do
    if answers "$listen"; then return 0; fi
    sleep 0.5
  done
  die "the registry on $listen did not answer within 15 s; tail of $folder/$label.log: $(tail -n 5 "$folder/$label.log" | tr '\n' ' ')"
}

case "$action" in
start)
  port="${4:-}"; namespace="${5:-}"; address="${6:-}"
  [[ "$port" =~ ^[0-9]{1,5}$ ]] || die "PORT must be a port number"
  command -v docker-registry >/dev/null 2>&1 || die "docker-registry is missing: sudo bash scripts/ensure-registry.sh"
  command -v curl >/dev/null 2>&1 || die "curl is missing: apt-get install curl"
  mkdir -p "$folder/data"
  serve loopback "127.0.0.1:$port"
  echo "127.0.0.1:$port"
  if [ -n "$namespace" ]; then
    [[ "$address" =~ ^10\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || die "ADDRESS must be an address 10.x.y.z (z a multiple of 4 plus 1)"
    [ -e "/var/run/netns/$namespace" ] || die "no network namespace $namespace (start the extra engine first)"
    inside="${address%.*}.$(( ${address##*.} + 1 ))"
    if ! ip link show "$link" >/dev/null 2>&1; then
      ip link add "$link" type veth peer name "dbn-$name"
      ip link set "dbn-$name" netns "$namespace"
      ip addr add "$address/30" dev "$link"
      ip link set "$link" up
      nsenter --net="/var/run/netns/$namespace" ip addr add "$inside/30" dev "dbn-$name"
      nsenter --net="/var/run/netns/$namespace" ip link set "dbn-$name" up
    fi
    serve linked "$address:$port"
    echo "$address:$port"
  fi
  ;;
stop)
  for label in loopback linked; do
    if pid_running "$folder/$label.pid"; then
      pid="$(cat "$folder/$label.pid")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # Deleting the host side removes the pair (the namespace side goes with it, or with its namespace).
  if ip link show "$link" >/dev/null 2>&1; then ip link delete "$link"; fi
  [ -d "$folder" ] && rm -rf "$folder"
  exit 0
  ;;
*) die "usage: $0 start NAME FOLDER PORT [NAMESPACE ADDRESS] | stop NAME FOLDER" ;;
esac
