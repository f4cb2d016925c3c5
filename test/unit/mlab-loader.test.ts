// Loading mlab task folders: the bundled tasks, defaults and overrides, and errors that name
// the folder, the file, the field and the fix, with nothing half-loaded.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { discoverMlabTasks, loadMlabTask, mlabTaskJsonSchema } from "../../src/families/mlab/task.js";

const BUNDLED = path.resolve("tasks/mlab");
const temporary: string[] = [];
afterEach(async () => {
  await Promise.all(temporary.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

/** Writes a task folder from a map of relative paths to contents (null: an empty folder). */
async function makeTask(files: Record<string, string | null>, name = "my-task"): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "dynabox-mlab-load-"));
  temporary.push(root);
  const folder = path.join(root, name);
  for (const [relative, content] of Object.entries(files)) {
    const target = path.join(folder, relative);
    if (content === null) await mkdir(target, { recursive: true });
    else {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content);
    }
  }
  return folder;
}

const GOOD: Record<string, string> = {
  "env/train.py": "print('hi')\n",
  "scripts/research_problem.txt": "Improve it.\n",
  "scripts/eval.py": "import os\n\ndef get_score(submission_folder='../env'):\n    return 1.0\n",
  "scripts/read_only_files.txt": "./train.csv\n",
  "scripts/task.json": '{"direction": "lower", "baseline": null, "timeout_seconds": 60}',
  "solution/train.py": "print('better')\n",
};

async function loadError(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(UserError.isInstance(error), String(error)).toBe(true);
  return error as UserError;
}

describe("mlab loader", () => {
  it("loads the four bundled tasks from tasks/mlab", async () => {
    const tasks = await discoverMlabTasks(BUNDLED);
    expect(tasks.map((task) => task.id)).toEqual(["digits-mini", "house-price-mini", "sentiment-mini", "wine-mini"]);
    const house = tasks.find((task) => task.id === "house-price-mini")!;
    expect(house).toMatchObject({
      family: "mlab",
      direction: "lower",
      baseline: null,
      timeoutSeconds: 300,
      readOnlyPatterns: ["./train.csv", "./test.csv", "./data_description.txt"],
      hasPrepareScript: true,
      hasStarter: true,
      hasSolution: true,
      settingsSource: "task.json",
      warnings: [],
    });
    expect(house.researchProblem).toMatch(/submission\.csv/);
    expect(await discoverMlabTasks(path.join(BUNDLED, "wine-mini"))).toHaveLength(1);
  });

  it("returns [] for a file or a folder without tasks, and names a missing path", async () => {
    expect(await discoverMlabTasks(path.join(BUNDLED, ".gitignore"))).toEqual([]);
    expect(await discoverMlabTasks(path.resolve("src"))).toEqual([]);
    const error = await loadError(discoverMlabTasks("/no/such/place"));
    expect(error.code).toBe("DYNABOX_INVALID_INPUT");
    expect(error.message).toContain("/no/such/place does not exist");
  });

  it("reads task.json, and defaults to higher-is-better with a warning without it", async () => {
    const folder = await makeTask(GOOD);
    expect(await loadMlabTask(folder)).toMatchObject({ id: "my-task", direction: "lower", timeoutSeconds: 60, warnings: [] });
    const { ["scripts/task.json"]: _omitted, ...withoutJson } = GOOD;
    const upstream = await loadMlabTask(await makeTask(withoutJson));
    expect(upstream).toMatchObject({ direction: "higher", baseline: null, timeoutSeconds: 300, settingsSource: "defaults" });
    expect(upstream.warnings.join("\n")).toMatch(/task\.json is missing: assuming direction "higher".*\{"direction": "lower"\}/s);
  });

  it("lets overrides replace task.json settings, and checks them", async () => {
    const folder = await makeTask(GOOD);
    expect(await loadMlabTask(folder, { direction: "higher", baseline: 1e10 })).toMatchObject({
      direction: "higher",
      baseline: 1e10,
      timeoutSeconds: 60,
      settingsSource: "task.json+overrides",
    });
    const error = await loadError(loadMlabTask(folder, { baseline: -1 }));
    expect(error.code).toBe("DYNABOX_INVALID_INPUT");
    expect(error.message).toContain("baseline");
  });

  it("lists every problem of a broken task at once, naming files, fields and fixes", async () => {
    const folder = await makeTask({
      "env/data.csv": "a\n",
      "scripts/research_problem.txt": "   \n",
      "scripts/eval.py": "def score(folder):\n    return 1\n",
      "scripts/task.json": '{"direction": "up", "baseline": 0, "timeout": 5}',
    });
    const error = await loadError(loadMlabTask(folder));
    expect(error.code).toBe("DYNABOX_TASK_INVALID");
    expect(error.details).toMatchObject({ folder });
    expect(error.message).toContain(`mlab task ${folder} can not be loaded`);
    expect(error.message).toContain("scripts/research_problem.txt is empty: write the task prompt in it");
    expect(error.message).toContain("scripts/eval.py does not define get_score at top level");
    expect(error.message).toMatch(/scripts\/task\.json field direction: .*"higher".*"lower"/);
    expect(error.message).toContain("scripts/task.json field baseline:");
    expect(error.message).toContain("scripts/task.json unknown field(s) timeout: remove them");
  });

  it("needs env/, scripts/ files, valid JSON, and a starter unless the baseline is fixed", async () => {
    const noEnv = await makeTask({ "scripts/eval.py": GOOD["scripts/eval.py"]!, "scripts/research_problem.txt": "x" });
    expect((await loadError(loadMlabTask(noEnv))).message).toContain("env/ is missing");
    const badJson = await makeTask({ ...GOOD, "scripts/task.json": "{direction: lower}" });
    expect((await loadError(loadMlabTask(badJson))).message).toMatch(/scripts\/task\.json is not valid JSON .*write \{"direction"/);
    const { ["env/train.py"]: _starter, ...noStarter } = GOOD;
    const folder = await makeTask({ ...noStarter, "env/data.csv": "a\n" });
    expect((await loadError(loadMlabTask(folder))).message).toContain('env/train.py is missing, so the baseline can not be measured: add the starter train.py, or set "baseline"');
    expect(await loadMlabTask(folder, { baseline: 1e10 })).toMatchObject({ hasStarter: false, baseline: 1e10 });
    const { ["scripts/eval.py"]: _eval, ["scripts/research_problem.txt"]: _problem, ...missing } = GOOD;
    const message = (await loadError(loadMlabTask(await makeTask(missing)))).message;
    expect(message).toContain("scripts/research_problem.txt is missing");
    expect(message).toContain("scripts/eval.py is missing: it must define get_score(submission_folder) -> float");
  });

  it("warns about a missing read_only_files.txt; a missing solution/ is validate's warning, not the task's", async () => {
    const { ["scripts/read_only_files.txt"]: _globs, ["solution/train.py"]: _solution, ...rest } = GOOD;
    const task = await loadMlabTask(await makeTask(rest));
    expect(task).toMatchObject({ readOnlyPatterns: [], hasSolution: false });
    // Loader warnings go into every eval result line; upstream's tasks never have solution/.
    expect(task.warnings).toEqual(["scripts/read_only_files.txt is missing: every file in the workspace is writable"]);
  });

  it("refuses a folder of tasks when one is broken, naming it (nothing half-loaded)", async () => {
    const good = await makeTask(GOOD, "good");
    const root = path.dirname(good);
    await mkdir(path.join(root, "broken", "env"), { recursive: true });
    await mkdir(path.join(root, "broken", "scripts"), { recursive: true });
    await writeFile(path.join(root, "broken", "scripts", "eval.py"), "def get_score(folder):\n    return 1.0\n");
    await mkdir(path.join(root, "not-a-task"), { recursive: true });
    const error = await loadError(discoverMlabTasks(root));
    expect(error.message).toContain(`1 mlab task(s) under ${root} can not be loaded`);
    expect(error.message).toContain(path.join(root, "broken"));
    expect(error.message).toContain("scripts/research_problem.txt is missing");
    expect(error.message).not.toContain(path.join(root, "good "));
  });

  it("skips, with a warning, tasks of a benchmarks/ folder that can not be graded (no eval.py), and loads the rest", async () => {
    const good = await makeTask(GOOD, "good");
    const root = path.dirname(good);
    // Like upstream's bibtex-generation: env/, scripts/research_problem.txt, no eval.py.
    await mkdir(path.join(root, "bibtex-generation", "env"), { recursive: true });
    await mkdir(path.join(root, "bibtex-generation", "scripts"), { recursive: true });
    await writeFile(path.join(root, "bibtex-generation", "scripts", "research_problem.txt"), "Write a tool.\n");
    const warnings: string[] = [];
    const tasks = await discoverMlabTasks(root, {}, (message) => warnings.push(message));
    expect(tasks.map((task) => task.id)).toEqual(["good"]);
    expect(warnings).toEqual([`skipped 1 mlab task(s) under ${root} that can not be graded: bibtex-generation (scripts/eval.py is missing, so no submission can be graded)`]);
    // Named on its own, the task is still an error that says what is missing.
    expect((await loadError(discoverMlabTasks(path.join(root, "bibtex-generation")))).message).toContain("scripts/eval.py is missing");
  });

  it("applies upstream's plot.py settings to a task named as upstream names it, with a warning, unless task.json says otherwise", async () => {
    const { "scripts/task.json": _taskJson, ...withoutTaskJson } = GOOD;
    const vectorization = await loadMlabTask(await makeTask(withoutTaskJson, "vectorization"));
    expect(vectorization).toMatchObject({ direction: "lower", baseline: 6.1742, settingsSource: "upstream", timingMetric: true });
    expect(vectorization.warnings.join("\n")).toContain('assumed upstream\'s settings for "vectorization" from MLAgentBench/plot.py');
    // The benchmark folder name maps to plot.py's label.
    const parkinsons = await loadMlabTask(await makeTask(withoutTaskJson, "amp-parkinsons-disease-progression-prediction"));
    expect(parkinsons).toMatchObject({ direction: "lower", baseline: null });
    const babylm = await loadMlabTask(await makeTask(withoutTaskJson, "babylm"));
    expect(babylm.direction).toBe("lower");
    const imdb = await loadMlabTask(await makeTask(withoutTaskJson, "imdb"));
    expect(imdb).toMatchObject({ direction: "higher", baseline: 0.5 });
    // task.json's direction wins; its silence on the baseline takes upstream's.
    const housePrice = await loadMlabTask(await makeTask({ ...withoutTaskJson, "scripts/task.json": '{"direction": "higher"}' }, "house-price"));
    expect(housePrice).toMatchObject({ direction: "higher", baseline: 1e10, settingsSource: "task.json+upstream" });
    const explicit = await loadMlabTask(await makeTask({ ...withoutTaskJson, "scripts/task.json": '{"direction": "higher", "baseline": null}' }, "house-price"));
    expect(explicit).toMatchObject({ direction: "higher", baseline: null, settingsSource: "task.json" });
    // Other names keep dynabox's defaults.
    expect((await loadMlabTask(await makeTask(withoutTaskJson, "house-price-mini"))).settingsSource).toBe("defaults");
  });

  it("applies task.json defaults", () => {
    expect(mlabTaskJsonSchema.parse({ direction: "higher" })).toEqual({ direction: "higher", baseline: null, timeout_seconds: 300 });
    expect(mlabTaskJsonSchema.safeParse({ direction: "higher", timeout_seconds: 1.5 }).success).toBe(false);
  });
});
