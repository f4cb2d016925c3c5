// `dynabox doctor`: is this machine ready to run sandboxes? Each check says what it found and,
// when something is wrong, what to do. Exit 0 when ready, 3 (the environment's code) otherwise.

import type { Command } from "commander";
import { execa } from "execa";
import type Dockerode from "dockerode";
import { z } from "zod";
import { DynaboxError, EnvironmentError } from "../../errors.js";
import { BOOTSTRAPPED_BASE_IMAGE, DEBIAN_BASE_IMAGE, bootstrapBlocker, findDebootstrap, findLocalBaseImage } from "../../sandbox/base-image.js";
import { DOCKER_UNAVAILABLE_FIX, assertDockerReachable, connectDocker, engineRuntimes, imageExists, runtimeFix } from "../../sandbox/docker.js";
import { engineSelection } from "../engine-options.js";
import { describeEngineKind, limitsBlocker, LIMITS_BLOCKER_FIX } from "../../engines/kind.js";
import { engineChecks } from "../doctor-engines.js";
import { sandboxImageTag } from "../../sandbox/image.js";
import { LABEL_MANAGED, isOwnerDead } from "../../sandbox/labels.js";
import { slurmCheck } from "../doctor-slurm.js";

const doctorFlags = z.object({ json: z.boolean().default(false) });

/** ok: fine; warn: works, but something is worth doing; fail: not ready. */
export type CheckStatus = "ok" | "warn" | "fail";

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ready: boolean;
  checks: DoctorCheck[];
}

export async function runDoctor(docker: Dockerode = connectDocker(), wantedRuntime = engineSelection().runtime): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  let engineUp = false;
  try {
    const engine = await assertDockerReachable(docker);
    engineUp = true;
    const blocker = await limitsBlocker(docker).catch(() => undefined);
    checks.push(
      blocker === undefined
        ? { name: "engine", status: "ok", detail: await describeEngineKind(docker, engine) }
        : { name: "engine", status: "fail", detail: `${await describeEngineKind(docker, engine)}: ${blocker}`, fix: LIMITS_BLOCKER_FIX },
    );
    checks.push(await runtimeCheck(docker, wantedRuntime));
  } catch (error) {
    checks.push({
      name: "engine",
      status: "fail",
      detail: (DynaboxError.isInstance(error) ? error.message : String(error)).replace(`; ${DOCKER_UNAVAILABLE_FIX}`, ""),
      fix: DOCKER_UNAVAILABLE_FIX,
    });
  }

  const tag = sandboxImageTag();
  const debootstrapBlocker = bootstrapBlocker();
  if (engineUp) {
    const built = await imageExists(docker, tag);
    checks.push(
      built
        ? { name: "sandbox image", status: "ok", detail: `${tag} is built` }
        : {
            name: "sandbox image",
            status: "warn",
            detail: `${tag} is not built yet; the first sandbox will build it (minutes)`,
            fix: "dynabox image build",
          },
    );
    const base = await findLocalBaseImage(docker);
    if (base !== undefined || built) {
      checks.push({ name: "base image", status: "ok", detail: base ? `${base} is present` : "not needed: the sandbox image is built" });
    } else {
      checks.push({
        name: "base image",
        status: debootstrapBlocker === undefined ? "warn" : "fail",
        detail:
          `neither ${DEBIAN_BASE_IMAGE} nor ${BOOTSTRAPPED_BASE_IMAGE} is present; the build pulls ${DEBIAN_BASE_IMAGE}, ` +
          (debootstrapBlocker === undefined
            ? `or bootstraps ${BOOTSTRAPPED_BASE_IMAGE} from the Debian mirror when no registry answers`
            : `and can not bootstrap one offline: ${debootstrapBlocker}`),
        fix: debootstrapBlocker === undefined ? "dynabox image build" : "make a registry reachable, or: sudo bash scripts/ensure-docker.sh",
      });
    }
  }

  const debootstrap = findDebootstrap();
  checks.push(
    debootstrap === undefined
      ? {
          name: "debootstrap",
          status: "warn",
          detail: "not installed; needed only to bootstrap a base image when no registry answers",
          fix: "apt-get install debootstrap",
        }
      : { name: "debootstrap", status: "ok", detail: debootstrap },
  );

  // --engine (or the config file's "engines"): each engine as a batch would open it.
  const selected = engineSelection();
  if (selected.engines) checks.push(...(await engineChecks(selected.engines, tag, wantedRuntime, selected.imageRegistry)));

  checks.push(await gitCheck());
  checks.push(await slurmCheck());

  if (engineUp) {
    const containers = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABEL_MANAGED}=true`] }),
    });
    const dangling = containers.filter((container) => isOwnerDead(container.Labels ?? {}));
    checks.push(
      dangling.length === 0
        ? { name: "leftovers", status: "ok", detail: `no containers of dead dynabox processes (${containers.length} live)` }
        : {
            name: "leftovers",
            status: "warn",
            detail: `${dangling.length} container(s) of dead dynabox processes: ${dangling
              .map((container) => (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, ""))
              .join(", ")}`,
            fix: "npx dynabox clean --dead (removes only containers whose dynabox process is gone: safe on a shared engine), or start any dynabox run (it sweeps them too)",
          },
    );
  }

  return { ready: checks.every((check) => check.status !== "fail"), checks };
}

/**
 * Which OCI runtimes the engine has. gVisor (runsc) is optional, a stronger boundary than runc;
 * a runtime the user asked for (--runtime, DYNABOX_RUNTIME) that is missing is a failure.
 */
async function runtimeCheck(docker: Dockerode, wanted: string | undefined): Promise<DoctorCheck> {
  let runtimes: string[];
  try {
    runtimes = await engineRuntimes(docker);
  } catch (error) {
    return { name: "runtimes", status: "warn", detail: `could not list the engine's runtimes: ${error instanceof Error ? error.message : String(error)}` };
  }
  const listed = runtimes.join(", ") || "none listed";
  if (wanted !== undefined && !runtimes.includes(wanted)) {
    return { name: "runtimes", status: "fail", detail: `--runtime ${wanted} asked for, but the engine has only: ${listed}`, fix: runtimeFix(wanted) };
  }
  if (!runtimes.includes("runsc")) {
    return {
      name: "runtimes",
      status: "warn",
      detail: `${listed}; gVisor (runsc) is not registered, so --runtime runsc is not available (optional: a stronger boundary than runc)`,
      fix: runtimeFix("runsc"),
    };
  }
  return { name: "runtimes", status: "ok", detail: `${listed}; gVisor available with --runtime runsc` + (wanted ? ` (using ${wanted})` : "") };
}

/** RES-Q repositories are cloned and checked out on the host; the cache needs git 2.28 or later. */
async function gitCheck(): Promise<DoctorCheck> {
  const result = await execa("git", ["--version"], { reject: false });
  const version = /(\d+)\.(\d+)/.exec(result.stdout ?? "");
  if (result.exitCode !== 0 || version === null) {
    return { name: "git", status: "warn", detail: "git is not installed: RES-Q tasks need it", fix: "apt-get install git" };
  }
  const [major, minor] = [Number(version[1]), Number(version[2])];
  if (major < 2 || (major === 2 && minor < 28)) {
    return { name: "git", status: "warn", detail: `${result.stdout.trim()} is older than 2.28, which RES-Q tasks need`, fix: "install a newer git" };
  }
  return { name: "git", status: "ok", detail: result.stdout.trim() };
}

export function renderDoctorReport(report: DoctorReport): string {
  const mark: Record<CheckStatus, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };
  const lines = report.checks.map(
    (check) => `${mark[check.status]}  ${check.name}: ${check.detail}` + (check.fix ? `\n        to fix: ${check.fix}` : ""),
  );
  lines.push(report.ready ? "ready" : "not ready");
  return lines.join("\n");
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check that the Docker engine, the images and the tools dynabox needs are in place")
    .option("--json", "print the report as JSON")
    .action(async (rawFlags: unknown) => {
      const flags = doctorFlags.parse(rawFlags);
      const report = await runDoctor();
      process.stdout.write((flags.json ? JSON.stringify(report, null, 2) : renderDoctorReport(report)) + "\n");
      if (!report.ready) {
        const failed = report.checks.filter((check) => check.status === "fail");
        const engineDown = failed.some((check) => check.name === "engine");
        // Thrown so that exit-codes.ts maps it (EnvironmentError: 3) like every other error.
        throw new EnvironmentError(
          engineDown ? "DYNABOX_DOCKER_UNAVAILABLE" : "DYNABOX_IMAGE_MISSING",
          `not ready: ${failed.map((check) => check.name).join(", ")}`,
        );
      }
    });
}
