// task.json's `environment` for mlab tasks: the schema (snake_case, strict), its mapping to
// ensureTaskImage's spec, and the loader's checks and warnings. No Docker here.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { mlabTaskImage } from "../../src/families/mlab/grader.js";
import { loadMlabTask, mlabEnvironmentSpec, mlabTaskJsonSchema } from "../../src/families/mlab/task.js";
import type { GradingContext } from "../../src/grading/context.js";
import { planTaskImage } from "../../src/grading/environment.js";

const temporary: string[] = [];
afterEach(async () => {
  await Promise.all(temporary.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

async function makeTask(taskJson: unknown): Promise<string> {
  const folder = path.join(await mkdtemp(path.join(tmpdir(), "dynabox-mlab-environment-")), "env-task");
  temporary.push(path.dirname(folder));
  const files: Record<string, string> = {
    "env/train.py": "print('hi')\n",
    "scripts/research_problem.txt": "Improve it.\n",
    "scripts/eval.py": "def get_score(submission_folder='../env'):\n    return 1.0\n",
    "scripts/read_only_files.txt": "",
    "scripts/task.json": JSON.stringify(taskJson),
    "solution/train.py": "print('better')\n",
  };
  for (const [relative, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(folder, relative)), { recursive: true });
    await writeFile(path.join(folder, relative), content);
  }
  return folder;
}

async function loadError(folder: string): Promise<UserError> {
  const error = await loadMlabTask(folder).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(UserError.isInstance(error), String(error)).toBe(true);
  return error as UserError;
}

describe("task.json environment: the schema", () => {
  it("is optional: absent, it is absent from the parsed file", () => {
    expect(mlabTaskJsonSchema.parse({ direction: "higher" })).not.toHaveProperty("environment");
  });

  it("takes debian_packages, python_requirements and dockerfile, each optional", () => {
    const full = {
      direction: "lower",
      environment: { debian_packages: ["jq", "bc"], python_requirements: "toml\npyyaml>=6\n", dockerfile: "RUN echo hi" },
    };
    expect(mlabTaskJsonSchema.parse(full).environment).toEqual(full.environment);
    expect(mlabTaskJsonSchema.parse({ direction: "higher", environment: {} }).environment).toEqual({});
    expect(mlabTaskJsonSchema.parse({ direction: "higher", environment: { debian_packages: ["jq"] } }).environment).toEqual({
      debian_packages: ["jq"],
    });
  });

  it("is strict and typed", () => {
    const bad = (environment: unknown): boolean => mlabTaskJsonSchema.safeParse({ direction: "higher", environment }).success;
    expect(bad({ debianPackages: ["jq"] })).toBe(false); // camelCase is a typo here
    expect(bad({ debian_packages: "jq" })).toBe(false);
    expect(bad({ debian_packages: [""] })).toBe(false);
    expect(bad({ python_requirements: ["numpy"] })).toBe(false);
    expect(bad({ dockerfile: 3 })).toBe(false);
    expect(bad("jq")).toBe(false);
    expect(bad(null)).toBe(false);
  });

  it("maps to ensureTaskImage's spec", () => {
    expect(mlabEnvironmentSpec({ debian_packages: ["jq"], python_requirements: "toml\n", dockerfile: "RUN true" })).toEqual({
      debianPackages: ["jq"],
      pythonRequirements: "toml\n",
      dockerfileSnippet: "RUN true",
    });
    expect(mlabEnvironmentSpec({})).toEqual({});
  });
});

describe("task.json environment: loading", () => {
  it("a task without it has environment null and runs in the sandbox image, without asking Docker", async () => {
    const task = await loadMlabTask(await makeTask({ direction: "higher" }));
    expect(task.environment).toBeNull();
    const context = { docker: undefined, sandboxImage: "dynabox-sandbox:0123456789abcdef", cacheDirectory: "/nonexistent" };
    expect(await mlabTaskImage(context as unknown as GradingContext, task)).toBe("dynabox-sandbox:0123456789abcdef");
  });

  it("an environment that adds nothing is the sandbox image too", async () => {
    const task = await loadMlabTask(await makeTask({ direction: "higher", environment: { python_requirements: "# none\n" } }));
    const context = { docker: undefined, sandboxImage: "dynabox-sandbox:0123456789abcdef", cacheDirectory: "/nonexistent" };
    expect(await mlabTaskImage(context as unknown as GradingContext, task)).toBe("dynabox-sandbox:0123456789abcdef");
  });

  it("keeps the spec, and turns the plan's warnings into task warnings", async () => {
    const task = await loadMlabTask(
      await makeTask({ direction: "higher", environment: { debian_packages: ["jq"], python_requirements: "toml==0.10.2\n" } }),
    );
    expect(task.environment).toEqual({ debianPackages: ["jq"], pythonRequirements: "toml==0.10.2\n" });
    // Pins are pip's to honour now: nothing to warn about.
    expect(task.warnings.join("\n")).not.toMatch(/scripts\/task\.json environment:/);
    const withOption = await loadMlabTask(
      await makeTask({ direction: "higher", environment: { python_requirements: "--index-url https://example.org/simple\ntoml\n" } }),
    );
    expect(withOption.warnings.join("\n")).toMatch(/scripts\/task\.json environment: requirements option "--index-url https:\/\/example\.org\/simple" is ignored/);
  });

  it("survives overrides", async () => {
    const task = await loadMlabTask(await makeTask({ direction: "higher", environment: { debian_packages: ["bc"] } }), { timeoutSeconds: 9 });
    expect(task).toMatchObject({ timeoutSeconds: 9, environment: { debianPackages: ["bc"] }, settingsSource: "task.json+overrides" });
  });

  it("refuses, at load time, what can never be built, naming the file and field", async () => {
    const badName = await loadError(await makeTask({ direction: "higher", environment: { debian_packages: ["jq; rm -rf /"] } }));
    expect(badName.code).toBe("DYNABOX_TASK_INVALID");
    expect(badName.message).toContain("scripts/task.json field environment:");
    expect(badName.message).toContain('"jq; rm -rf /" is not a Debian package name');
    const url = await loadError(await makeTask({ direction: "higher", environment: { python_requirements: "pkg @ file:///srv/y.whl\n" } }));
    expect(url.message).toMatch(/"pkg @ file:\/\/\/srv\/y\.whl": only git\+https, https/);
  });

  it("names an unknown field inside environment and what is allowed", async () => {
    const error = await loadError(await makeTask({ direction: "higher", environment: { packages: ["jq"] } }));
    expect(error.message).toContain("scripts/task.json unknown field(s) in environment packages: remove them (allowed: debian_packages, python_requirements, python, dockerfile)");
  });
});

describe("task.json environment: python", () => {
  it("keeps the task's Python in the spec; the sandbox's own 3.11 or none adds nothing; a non-version is refused at load time", async () => {
    const task = await loadMlabTask(await makeTask({ direction: "higher", environment: { python: "3.9" } }));
    expect(task.environment).toEqual({ python: "3.9" });
    expect(planTaskImage(task.environment!)).toMatchObject({ python: "3.9", empty: false });
    expect(planTaskImage({ python: "python3.11" })).toMatchObject({ python: "", empty: true });
    const bad = await loadError(await makeTask({ direction: "higher", environment: { python: "conda-env" } }));
    expect(bad.message).toMatch(/scripts\/task\.json field environment: .*"conda-env", which is not a Python 3 version/);
  });
});

describe("scripts/requirements.txt", () => {
  it("becomes the task's python_requirements when task.json has none", async () => {
    const folder = await makeTask({ direction: "higher" });
    await writeFile(path.join(folder, "scripts", "requirements.txt"), "absl-py==2.1.0\n");
    const task = await loadMlabTask(folder);
    expect(task.environment).toEqual({ pythonRequirements: "absl-py==2.1.0\n" });
    const bad = await makeTask({ direction: "higher", environment: { python_requirements: "toml\n" } });
    await writeFile(path.join(bad, "scripts", "requirements.txt"), "ignored\n");
    expect((await loadMlabTask(bad)).environment).toEqual({ pythonRequirements: "toml\n" });
  });
});
