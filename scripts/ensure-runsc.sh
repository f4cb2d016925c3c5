#!/usr/bin/env bash
# Makes sure the local Docker engine has gVisor's `runsc` as a runtime named "runsc".
# Installs Debian's runsc, merges the runtime into /etc/docker/daemon.json (keeping every other
# key), and reloads dockerd with SIGHUP: the engine is never restarted, its containers keep running.
# runsc runs with --network=none: sandboxes are network-off anyway, and gVisor refuses to set up
# its own network stack when dockerd runs outside the root network namespace.
# Idempotent: a second run changes nothing. Needs root: sudo bash scripts/ensure-runsc.sh
set -euo pipefail

log() { printf 'ensure-runsc: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (it edits /etc/docker/daemon.json): sudo bash $0"

engine_has_runsc() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

if engine_has_runsc; then
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]; then
  die "DOCKER_HOST=${DOCKER_HOST} is not the local engine; register runsc on that engine's host instead"
fi

if ! command -v runsc >/dev/null 2>&1; then
  log "apt-get install runsc"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runsc >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runsc >/dev/null
  }
fi
runsc_path="$(command -v runsc)"

config=/etc/docker/daemon.json
mkdir -p /etc/docker
# Merge, never overwrite: other keys (and other runtimes) stay as they are.
node - "$config" "$runsc_path" <<'JS'
const fs = require("node:fs");
const [file, runscPath] = process.argv.slice(2);
let config = {};
if (fs.existsSync(file)) {
  const text = fs.readFileSync(file, "utf8").trim();
  if (text) config = JSON.parse(text);
}
const wanted = { path: runscPath, runtimeArgs: ["--network=none"] };
config.runtimes = config.runtimes ?? {};
if (JSON.stringify(config.runtimes.runsc) !== JSON.stringify(wanted)) {
  config.runtimes.runsc = wanted;
  const temporary = `${file}.dynabox-${process.pid}`;
  fs.writeFileSync(temporary, JSON.stringify(config, null, 2) + "\n");
  fs.renameSync(temporary, file);
}
JS

pid_file=/var/run/docker.pid
[ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null || die "dockerd is not running (no live $pid_file); start it with: sudo bash scripts/ensure-docker.sh"
log "reloading dockerd (SIGHUP) to register runsc"
kill -HUP "$(cat "$pid_file")"
for _ in $(seq 1 30); do
  engine_has_runsc && { log "runsc registered: $runsc_path --network=none"; exit 0; }
  sleep 1
done
die "dockerd did not list runsc after the reload; check $config and the dockerd log"
