#!/usr/bin/env bash
# Makes sure Slurm's commands and daemons and MUNGE are installed (Debian's slurm-wlm 22.05 and
# munge), so the tests can run a one-node cluster on localhost (scripts/slurm-local-cluster.sh).
# Idempotent: installs only what is missing. Needs root for apt-get: sudo bash scripts/ensure-slurm.sh
set -euo pipefail

log() { printf 'ensure-slurm: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

run_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to run: $* (re-run as root: sudo bash $0)"
  fi
}

missing=()
for pair in munged:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client; do
  binary=${pair%%:*}
  package=${pair##*:}
  if ! command -v "$binary" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$binary" ]; then missing+=("$package"); fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} with your package manager"
  log "apt-get install ${missing[*]}"
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # policy-rc.d may forbid starting the packaged services; the tests start their own daemons anyway.
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for binary in munged slurmctld slurmd sbatch squeue scancel; do
  command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || die "$binary is still missing after the install"
done
log "ready: $(sbatch --version 2>/dev/null || echo slurm), $(munged --version 2>/dev/null | head -n 1 || echo munge)"
