#!/usr/bin/env bash
# Starts (or stops) an extra Docker engine for the several-engines tests: its own data root,
# exec root, pidfile and unix socket under FOLDER, inside its own network namespace (entered with
# nsenter --net, not `ip netns exec`, which remounts /sys and hides the cgroup mounts), without
# bridge, iptables or TLS. The host's engine is never touched.
#   sudo bash scripts/extra-dockerd.sh start NAME FOLDER [DOCKERD-ARGUMENT...]
#        prints the socket path when it answers; the arguments go to dockerd (e.g. --insecure-registry)
#   sudo bash scripts/extra-dockerd.sh stop NAME FOLDER    # stops it, unmounts, removes namespace and FOLDER
# With DYNABOX_ENGINE_LINK=10.a.b.c (c a multiple of 4 plus 1), the namespace gets a veth link to
# the host before dockerd starts: host side 10.a.b.c/30, namespace side 10.a.b.(c+1), where a
# `-H tcp://10.a.b.(c+1):PORT` listener is reachable from the host and from nowhere else.
# Idempotent: start on a running engine only prints its socket; stop on a stopped one only cleans.
set -euo pipefail

log() { printf 'extra-dockerd: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

action="${1:-}"; name="${2:-}"; folder="${3:-}"
extra=("${@:4}")
[ -n "$action" ] && [ -n "$name" ] && [ -n "$folder" ] || die "usage: $0 start|stop NAME FOLDER"
[[ "$name" =~ ^[a-z0-9-]{1,20}$ ]] || die "NAME must be 1-20 of a-z, 0-9, -"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, dockerd): sudo bash $0 $*"
namespace="dynabox-$name"
socket="$folder/docker.sock"
pidfile="$folder/dockerd.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answers() { timeout 5 docker -H "unix://$socket" version >/dev/null 2>&1; }

case "$action" in
start)
  command -v dockerd >/dev/null 2>&1 || die "dockerd is missing: sudo bash scripts/ensure-docker.sh"
  if running && answers; then echo "$socket"; exit 0; fi
  mkdir -p "$folder/data" "$folder/exec"
  [ -e "/var/run/netns/$namespace" ] || ip netns add "$namespace"
  nsenter --net="/var/run/netns/$namespace" ip link set lo up
  link_address="${DYNABOX_ENGINE_LINK:-}"
  if [ -n "$link_address" ]; then
    [[ "$link_address" =~ ^10\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "DYNABOX_ENGINE_LINK must be an address 10.a.b.c"
    link="de-${name:0:12}"
    if ! ip link show "$link" >/dev/null 2>&1; then
      ip link add "$link" type veth peer name "dn-${name:0:12}"
      ip link set "dn-${name:0:12}" netns "$namespace"
      ip addr add "$link_address/30" dev "$link"
      ip link set "$link" up
      nsenter --net="/var/run/netns/$namespace" ip addr add "${link_address%.*}.$(( ${link_address##*.} + 1 ))/30" dev "dn-${name:0:12}"
      nsenter --net="/var/run/netns/$namespace" ip link set "dn-${name:0:12}" up
    fi
  fi
  # --tlsverify among the arguments: TLS on; otherwise off (the unix socket needs none).
  tls_flag="--tls=false"
  for argument in ${extra[@]+"${extra[@]}"}; do [ "$argument" = "--tlsverify" ] && tls_flag=""; done
  nohup nsenter --net="/var/run/netns/$namespace" dockerd \
    --data-root "$folder/data" --exec-root "$folder/exec" --pidfile "$pidfile" \
    -H "unix://$socket" ${tls_flag:+"$tls_flag"} --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
    --cgroup-parent "/dynabox-$name" --exec-opt native.cgroupdriver=cgroupfs ${extra[@]+"${extra[@]}"} \
    >"$folder/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    if answers; then echo "$socket"; exit 0; fi
    sleep 1
  done
  die "the extra dockerd did not answer within 60 s; tail of $folder/dockerd.log: $(tail -n 5 "$folder/dockerd.log" | tr '\n' ' ')"
  ;;
stop)
  if running; then
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Whatever the engine left mounted under its folder (overlay layers, netns files), deepest first.
  if [ -d "$folder" ]; then
    { grep -F " $folder/" /proc/self/mounts || true; } | awk '{print $2}' | sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
    rm -rf "$folder"
  fi
  if ip link show "de-${name:0:12}" >/dev/null 2>&1; then ip link delete "de-${name:0:12}"; fi
  if [ -e "/var/run/netns/$namespace" ]; then ip netns delete "$namespace"; fi
  exit 0
  ;;
*) die "usage: $0 start|stop NAME FOLDER" ;;
esac
