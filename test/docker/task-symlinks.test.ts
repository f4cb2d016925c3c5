// Attack (issue 7, item 9): a downloaded task whose folders or files are symlinks to host files.
// A link to a folder holding a canary key (MLAB env/, SAB benchmark/datasets/<x>) or to the key
// itself (the task prompt) must not carry the canary into a prompt, a container or results.jsonl:
// task files are read only from inside the task folder. Real CLI, real Docker.

import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { simpleGit } from "simple-git";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { describeMlab } from "../../src/families/mlab/grader.js";
import { loadMlabTask } from "../../src/families/mlab/task.js";
import { temporaryFolders } from "../temporary-folders.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-task-symlinks-");
const CANARY = "DYNABOX-CANARY-7c1e9f";

async function write(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

/** A host folder the task must never reach, holding the canary key. */
async function hostSecrets(root: string): Promise<string> {
  const secrets = path.join(root, "home", ".ssh");
  await write(path.join(secrets, "id_rsa"), `-----BEGIN KEY-----\n${CANARY}\n-----END KEY-----\n`);
  return secrets;
}

async function readIfThere(file: string): Promise<string> {
  return readFile(file, "utf8").catch(() => "");
}

/**
 * An mlab task whose hostile prepare.py copies whatever env/ holds into its hidden answers and
 * whose eval.py raises with the answers: if env/ reached the container, the key is in the result.
 */
async function leakingMlabTask(root: string): Promise<string> {
  const task = path.join(root, "downloaded", "leaky");
  await write(path.join(task, "scripts", "research_problem.txt"), "Predict y.\n");
  await write(path.join(task, "scripts", "task.json"), '{"direction": "higher", "baseline": 0.5}');
  await write(
    path.join(task, "scripts", "prepare.py"),
    "import glob, os\nopen('answer.csv', 'w').write(''.join(open(f).read() for f in glob.glob('../env/**', recursive=True) if os.path.isfile(f)))\n",
  );
  await write(path.join(task, "scripts", "eval.py"), "def get_score(submission_folder):\n    raise ValueError(open('answer.csv').read())\n");
  return task;
}

async function runCli(args: string[], cache: string) {
  return execa("node", [cli, ...args], { reject: false, env: { DYNABOX_CACHE_DIR: cache } });
}

describe("a downloaded task with symlinks to host files", () => {
  it("mlab: env/ linked to a host folder never reaches prepare.py, the grader or results.jsonl", async () => {
    const root = await scratch();
    const secrets = await hostSecrets(root);
    const task = await leakingMlabTask(root);
    await symlink(secrets, path.join(task, "env"));
    const workspace = path.join(root, "workspace");
    await write(path.join(workspace, "submission.csv"), "y\n1\n");
    const runDirectory = path.join(root, "run");
    const result = await runCli(["eval", "--mlab", task, "--workspace", workspace, "--run-dir", runDirectory, "--json"], path.join(root, "cache"));
    const everything = [result.stdout, result.stderr, await readIfThere(path.join(runDirectory, "results.jsonl"))].join("\n");
    expect(everything).not.toContain(CANARY);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("the task file env in");
    expect(result.stderr).toContain("outside the task folder");
  });

  it("mlab: a link inside env/ to a host folder, and one climbing out with ../, are refused the same way", async () => {
    for (const link of ["absolute", "relative"] as const) {
      const root = await scratch();
      const secrets = await hostSecrets(root);
      const task = await leakingMlabTask(root);
      await mkdir(path.join(task, "env"), { recursive: true });
      await symlink(link === "absolute" ? secrets : "../../../home/.ssh", path.join(task, "env", "data"));
      const result = await runCli(["validate", task, "--json", "--run-dir", path.join(root, "run")], path.join(root, "cache"));
      expect(result.stdout + result.stderr).not.toContain(CANARY);
      expect(result.stderr, link).toContain("the task file env/data in");
    }
  });

  it("mlab: a research_problem.txt linked to the key never becomes the model's prompt", async () => {
    const root = await scratch();
    const secrets = await hostSecrets(root);
    const task = await leakingMlabTask(root);
    await mkdir(path.join(task, "env"), { recursive: true });
    await rm(path.join(task, "scripts", "research_problem.txt"));
    await symlink(path.join(secrets, "id_rsa"), path.join(task, "scripts", "research_problem.txt"));
    const outcome = await loadMlabTask(task).then(
      (loaded) => describeMlab(loaded),
      (error: unknown) => error,
    );
    expect(String(outcome instanceof Error ? outcome.message : outcome)).not.toContain(CANARY);
    expect(UserError.isInstance(outcome)).toBe(true);
    expect((outcome as UserError).message).toContain("the task file scripts/research_problem.txt in");
  });

  it("sab: benchmark/datasets/<x> linked to a host folder never reaches the program, the eval or results.jsonl", async () => {
    const root = await scratch();
    const secrets = await hostSecrets(root);
    const sab = path.join(root, "downloaded", "sab");
    const row = {
      instance_id: "1",
      domain: "d",
      subtask_categories: "s",
      github_name: "g",
      task_inst: "Copy the data.",
      domain_knowledge: "",
      dataset_folder_tree: "|-- leak/\n|---- id_rsa",
      dataset_preview: "",
      src_file_or_path: "",
      gold_program_name: "copy.py",
      output_fname: "pred_results/out.txt",
      eval_script_name: "copy_eval.py",
    };
    await write(path.join(sab, "tasks.jsonl"), `${JSON.stringify(row)}\n`);
    await mkdir(path.join(sab, "benchmark", "datasets"), { recursive: true });
    await symlink(secrets, path.join(sab, "benchmark", "datasets", "leak"));
    const copy = "import os\nos.makedirs('pred_results', exist_ok=True)\nopen('pred_results/out.txt', 'w').write(open('benchmark/datasets/leak/id_rsa').read())\n";
    await write(path.join(sab, "benchmark", "gold_programs", "copy.py"), copy);
    await write(path.join(sab, "benchmark", "eval_programs", "copy_eval.py"), "def eval():\n    return 0, open('pred_results/out.txt').read()\n");
    const programs = path.join(root, "programs");
    await write(path.join(programs, "pred_copy.py"), copy);
    const runDirectory = path.join(root, "run");
    const result = await runCli(
      ["eval", "--sab", path.join(sab, "tasks.jsonl"), "--programs", programs, "--run-dir", runDirectory, "--json"],
      path.join(root, "cache"),
    );
    const everything = [result.stdout, result.stderr, await readIfThere(path.join(runDirectory, "results.jsonl"))].join("\n");
    expect(everything).not.toContain(CANARY);
    // The loader names the link (as "the task file datasets/leak in ... is a link to" or "datasets/leak is a symbolic link to").
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/datasets\/leak.{0,400}link to/s);

    // The same download with benchmark/ itself a link to a host folder laid out as one.
    const hostBenchmark = path.join(root, "home", "benchmark");
    await write(path.join(hostBenchmark, "datasets", "leak", "id_rsa"), `${CANARY}\n`);
    await write(path.join(hostBenchmark, "gold_programs", "copy.py"), copy);
    await write(path.join(hostBenchmark, "eval_programs", "copy_eval.py"), "def eval():\n    return 0, open('pred_results/out.txt').read()\n");
    const linked = path.join(root, "downloaded", "sab-linked");
    await write(path.join(linked, "tasks.jsonl"), `${JSON.stringify(row)}\n`);
    await symlink(hostBenchmark, path.join(linked, "benchmark"));
    const second = await runCli(["eval", "--sab", path.join(linked, "tasks.jsonl"), "--programs", programs, "--run-dir", path.join(root, "run-2"), "--json"], path.join(root, "cache"));
    expect([second.stdout, second.stderr, await readIfThere(path.join(root, "run-2", "results.jsonl"))].join("\n")).not.toContain(CANARY);
    expect(second.stderr).toContain("is a link that leads out of the folder of the rows file");
  });

  it("resq: a relative repo_url that links to a repository elsewhere on the host is never cloned, tested or reported", async () => {
    const root = await scratch();
    // A private repository of the user's, holding the canary.
    const privateRepository = path.join(root, "home", "work", "private");
    await write(path.join(privateRepository, "secret.txt"), `${CANARY}\n`);
    const git = simpleGit(privateRepository);
    await git.init().addConfig("user.email", "t@example.com").addConfig("user.name", "t").add(".").commit("private");
    const base = (await git.revparse(["HEAD"])).trim();
    const download = path.join(root, "downloaded", "resq");
    await mkdir(path.join(download, "repos"), { recursive: true });
    await symlink(privateRepository, path.join(download, "repos", "project"));
    const row = {
      id: "0_0",
      repo_url: "repos/project",
      instruction: "Fix it.",
      base_commit: base,
      test_script: "import sys\nprint(open('secret.txt').read())\nsys.exit(1)\nsys.exit(0)\n",
      testbed_environment: "python3.11",
      requirements_txt: "",
      solution_commit: base,
      solution_patch: "",
      modified_files: [],
      language: "Python",
    };
    await write(path.join(download, "dataset.json"), JSON.stringify([row]));
    const patch = "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+x\n";
    await write(path.join(root, "submissions.jsonl"), `${JSON.stringify({ id: "0_0", patch })}\n`);
    const runDirectory = path.join(root, "run");
    const result = await runCli(
      ["eval", "--resq", path.join(download, "dataset.json"), "--submissions", path.join(root, "submissions.jsonl"), "--run-dir", runDirectory, "--json"],
      path.join(root, "cache"),
    );
    expect([result.stdout, result.stderr, await readIfThere(path.join(runDirectory, "results.jsonl"))].join("\n")).not.toContain(CANARY);
    expect(result.stderr).toContain("is a link that leads out of the dataset file's folder");
  });
});
