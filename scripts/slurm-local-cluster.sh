#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, all of its state under one folder, for tests and trials:
#   bash scripts/slurm-local-cluster.sh start DIR   writes DIR/slurm.conf, starts munged,
#                                                   slurmctld and slurmd; prints SLURM_CONF=...
#   bash scripts/slurm-local-cluster.sh stop DIR    stops the daemons started in DIR (by pid)
# Idempotent: start on a running cluster only checks it answers; stop on a stopped one does
# nothing. Daemons listen on 127.0.0.1 only. Needs scripts/ensure-slurm.sh first, and root.
set -euo pipefail

log() { printf 'slurm-local-cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

action=${1:-}
folder=${2:-}
[ -n "$action" ] && [ -n "$folder" ] || die "usage: $0 start|stop DIR"
mkdir -p "$folder"
folder=$(cd "$folder" && pwd)
[ "$(id -u)" -eq 0 ] || die "the daemons run as root here: re-run as root"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_one() {
  local pidfile=$1 name=$2
  if alive "$pidfile"; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$name (pid $pid) did not stop: killing it"; kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

if [ "$action" = stop ]; then
  # Jobs first, so no job step is left behind by slurmd.
  if alive "$folder/slurmctld.pid" && [ -f "$folder/slurm.conf" ]; then
    SLURM_CONF="$folder/slurm.conf" scancel --full --quiet --user=root 2>/dev/null || true
    sleep 0.5
  fi
  stop_one "$folder/slurmd.pid" slurmd
  stop_one "$folder/slurmctld.pid" slurmctld
  stop_one "$folder/munged.pid" munged
  exit 0
fi
[ "$action" = start ] || die "unknown action $action: start or stop"

node=$(hostname -s)
# Ports: free ones picked once per folder, so two clusters on one machine do not collide.
if [ ! -f "$folder/ports" ]; then
  python3 - >"$folder/ports" <<'PY'
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
fi
read -r controller_port node_port <"$folder/ports"
mkdir -p "$folder/state" "$folder/spool" "$folder/munge" "$folder/log"
chmod 700 "$folder/munge"

if [ ! -f "$folder/munge/munge.key" ]; then
  head -c 128 /dev/urandom >"$folder/munge/munge.key"
  chmod 400 "$folder/munge/munge.key"
fi

cat >"$folder/slurm.conf" <<CONF
# Written by scripts/slurm-local-cluster.sh: a one-node test cluster on 127.0.0.1.
ClusterName=dynabox-local
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${controller_port}
SlurmdPort=${node_port}
AuthType=auth/munge
AuthInfo=socket=${folder}/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=${folder}/state
SlurmdSpoolDir=${folder}/spool
SlurmctldPidFile=${folder}/slurmctld.pid
SlurmdPidFile=${folder}/slurmd.pid
SlurmctldLogFile=${folder}/log/slurmctld.log
SlurmdLogFile=${folder}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=600
NodeName=${node} NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

if ! alive "$folder/munged.pid"; then
  munged --force --socket="$folder/munge/munge.socket" --key-file="$folder/munge/munge.key" \
    --pid-file="$folder/munged.pid" --log-file="$folder/log/munged.log" --seed-file="$folder/munge/munge.seed"
fi
export SLURM_CONF="$folder/slurm.conf"
if ! alive "$folder/slurmctld.pid"; then slurmctld -f "$folder/slurm.conf" -i; fi
if ! alive "$folder/slurmd.pid"; then slurmd -f "$folder/slurm.conf" -N "$node"; fi

for _ in $(seq 1 60); do
  state=$(sinfo --noheader --format=%T 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle*|mixed*|allocated*) log "ready: node $node is $state"; echo "SLURM_CONF=$folder/slurm.conf"; exit 0 ;;
  esac
  sleep 0.5
done
die "the cluster did not come up within 30 s (node state: ${state:-none}); logs in $folder/log: $(tail -n 3 "$folder/log/slurmctld.log" "$folder/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
