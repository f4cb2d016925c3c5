// Requirement lines real tasks carry besides `name==version`, installed for real, offline, on
// loopback: a git repository this test makes, served over git's dumb HTTP protocol (a static
// server after `git update-server-info`), as `pkg @ git+http://…@ref` and as a bare
// `git+http://…#egg=pkg`; and a find-links page (`-f URL`) listing a wheel this test builds. Both
// are importable in a grader container of the environment image; the lines are in the image's hash.

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import { withGraderSandbox, type GradingContext } from "../../src/grading/context.js";
import { ensureTaskImage } from "../../src/grading/environment.js";
import { startPackageIndex, type PackageIndex } from "../../src/testing/package-index.js";
import { startStaticServer, type StaticServer } from "../../src/testing/static-server.js";
import { buildWheel } from "../../src/testing/wheels.js";
import { docker, image } from "./sandbox-fixture.js";

const run = promisify(execFile);

/**
 * A PEP 517 build backend inside the repository (backend-path ["."], no build requirements), so
 * that pip builds the package from git with nothing from an index: setuptools is not needed.
 */
const BACKEND = String.raw`
import base64, hashlib, os, zipfile
NAME, VERSION = "dynabox_gitdemo", "1.0"
METADATA = "Metadata-Version: 2.1\nName: dynabox-gitdemo\nVersion: %s\n" % VERSION
WHEEL = "Wheel-Version: 1.0\nGenerator: dynabox-test-backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
INFO = "%s-%s.dist-info" % (NAME, VERSION)
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, INFO), exist_ok=True)
    with open(os.path.join(directory, INFO, "METADATA"), "w") as f:
        f.write(METADATA)
    return INFO
def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {NAME + "/__init__.py": open(os.path.join(NAME, "__init__.py"), "rb").read(),
             INFO + "/METADATA": METADATA.encode(), INFO + "/WHEEL": WHEEL.encode()}
    record = "".join("%s,%s,%d\n" % (name, _digest(data), len(data)) for name, data in files.items()) + INFO + "/RECORD,,\n"
    filename = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(INFO + "/RECORD", record)
    return filename
`;

let root: string;
let served: StaticServer;
let index: PackageIndex;
let gitUrl: string;
const made: string[] = [];

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("git", ["-c", "user.name=dynabox-test", "-c", "user.email=test@dynabox.invalid", "-c", "init.defaultBranch=main", ...args], { cwd });
  return stdout.trim();
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "dynabox-requirement-links-"));
  const work = path.join(root, "work");
  await mkdir(path.join(work, "dynabox_gitdemo"), { recursive: true });
  await writeFile(path.join(work, "backend.py"), BACKEND);
  await writeFile(path.join(work, "pyproject.toml"), '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n');
  await writeFile(path.join(work, "dynabox_gitdemo", "__init__.py"), "ORIGIN = 'git'\n");
  await git(work, "init", "-q");
  await git(work, "add", ".");
  await git(work, "commit", "-q", "-m", "a tiny package");
  await git(work, "tag", "v1.0");
  // The served copy: a bare repository with the files git's dumb protocol reads (info/refs, objects/info/packs).
  const site = path.join(root, "site");
  await mkdir(path.join(site, "wheels"), { recursive: true });
  await git(root, "clone", "-q", "--bare", work, path.join(site, "gitdemo.git"));
  await git(path.join(site, "gitdemo.git"), "update-server-info");
  // A find-links page (as https://data.dgl.ai/wheels/repo.html is) pointing at a wheel next to it.
  const wheel = buildWheel({ name: "dynabox-linkdemo", version: "1.0", files: { "dynabox_linkdemo/__init__.py": "ORIGIN = 'find-links'\n" } });
  await writeFile(path.join(site, "wheels", wheel.filename), wheel.content);
  await writeFile(path.join(site, "wheels", "repo.html"), `<html><body><a href="${wheel.filename}">${wheel.filename}</a></body></html>\n`);
  served = await startStaticServer(site);
  gitUrl = `git+${served.url}/gitdemo.git`;
  // The user's index (the probe needs one answering); it has neither package.
  index = await startPackageIndex({});
});

afterAll(async () => {
  await served?.close();
  await index?.close();
  for (const tag of made) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
});

function context(warnings: string[] = []): GradingContext {
  return { docker, sandboxImage: image(), cacheDirectory: "/nonexistent", environment: { pipIndexUrl: index.url }, onWarning: (warning) => warnings.push(warning) };
}

async function origins(tag: string, modules: string[]): Promise<string> {
  return withGraderSandbox(context(), { image: tag }, async (grader) => {
    const result = await grader.shell(`python3 -c 'import ${modules.join(", ")}; print(${modules.map((module) => `${module}.ORIGIN`).join(", ")})'`);
    expect(result.stderr).toBe("");
    return result.stdout.trim();
  });
}

describe("git and find-links requirement lines from task files", () => {
  it("pkg @ git+…@tag and a -f page's wheel are installed, importable at grading", async () => {
    const requirements = `dynabox-gitdemo @ ${gitUrl}@v1.0\n-f ${served.url}/wheels/repo.html\ndynabox-linkdemo==1.0\n`;
    const tag = await ensureTaskImage(context(), { pythonRequirements: requirements });
    made.push(tag);
    expect(await origins(tag, ["dynabox_gitdemo", "dynabox_linkdemo"])).toBe("git find-links");
    expect(served.requests.get("/gitdemo.git/info/refs") ?? 0).toBeGreaterThan(0);
    expect(served.requests.get("/wheels/repo.html") ?? 0).toBeGreaterThan(0);
  });

  it("a bare git+…#egg= line and --find-links= spelling work too, and the lines are in the image's hash", async () => {
    const bare = `${gitUrl}#egg=dynabox-gitdemo\n--find-links=${served.url}/wheels/repo.html\ndynabox-linkdemo\n`;
    const tag = await ensureTaskImage(context(), { pythonRequirements: bare });
    made.push(tag);
    expect(await origins(tag, ["dynabox_gitdemo", "dynabox_linkdemo"])).toBe("git find-links");
    // Another ref is another layer: the git line is hashed as written.
    const other = await ensureTaskImage(context(), { pythonRequirements: `dynabox-gitdemo @ ${gitUrl}@main\n` });
    made.push(other);
    expect(other).not.toBe(tag);
    expect(await origins(other, ["dynabox_gitdemo"])).toBe("git");
  });

  it("a ref the repository lacks is an error naming the line and git's words", async () => {
    const line = `dynabox-gitdemo @ ${gitUrl}@no-such-ref`;
    const error = await ensureTaskImage(context(), { pythonRequirements: `${line}\n` }).catch((caught: unknown) => caught);
    expect(DynaboxError.isInstance(error) && error.code, String(error)).toBe("DYNABOX_TASK_INVALID");
    expect((error as Error).message).toContain(`"${line}" could not be fetched`);
  });

  it("with binaryOnly (a ScienceAgentBench program's imports) a git reference from dynabox's own table still builds: pip applies --only-binary to index candidates only", async () => {
    const tag = await ensureTaskImage(context(), { pythonRequirements: `dynabox-gitdemo @ ${gitUrl}@v1.0\n`, binaryOnly: true });
    made.push(tag);
    expect(await origins(tag, ["dynabox_gitdemo"])).toBe("git");
  });

  it("URLs a task may not use are refused before any build", async () => {
    for (const line of [
      "pkg @ git+ssh://git@example.com/x.git",
      "pkg @ file:///etc",
      "pkg @ git+http://example.com/x.git",
      `-f ${served.url}/\${PIP_INDEX_URL}`,
      "--find-links /srv/wheels",
      "pkg @ https://user:secret@example.com/pkg-1.0-py3-none-any.whl",
    ]) {
      const error = await ensureTaskImage(context(), { pythonRequirements: `${line}\n` }).catch((caught: unknown) => caught);
      expect(DynaboxError.isInstance(error) && error.code, line).toBe("DYNABOX_TASK_INVALID");
    }
  });
});

describe("a RES-Q row whose requirements_txt carries a git line and a find-links page", () => {
  it("grades as upstream would, with both packages importable by the row's test", async () => {
    const { resqFamily } = await import("../../src/families/resq/grader.js");
    const { bundledTask, bundledTasks, resqContext, withRow } = await import("./resq-helpers.js");
    const base = bundledTask(await bundledTasks(), "1_0");
    const task = withRow(base, {
      requirements_txt: `dynabox-gitdemo @ ${gitUrl}@v1.0\n-f ${served.url}/wheels/repo.html\ndynabox-linkdemo==1.0\n`,
      test_script:
        "import dynabox_gitdemo, dynabox_linkdemo\nassert (dynabox_gitdemo.ORIGIN, dynabox_linkdemo.ORIGIN) == ('git', 'find-links')\n" + base.row.test_script,
    });
    const resq = { ...(await resqContext()), environment: { pipIndexUrl: index.url } };
    try {
      const verdict = await resqFamily.grade(resq, task, task.row.solution_patch);
      expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
      const image = await resqFamily.agentImage!(resq, task);
      expect(image).toMatch(/^dynabox-env:/);
      made.push(image);
    } finally {
      await resq.dispose();
    }
  }, 300_000);
});
