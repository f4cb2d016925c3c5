// The demo's scripted "model": replies written in advance for four bundled tasks, one family
// after another, so a newcomer sees the whole machine work without any language model. They
// are not a model's answers: the demo says so, and the code in them uses the tasks' own
// reference solutions. What is real: the sandbox runs every line, the graders judge the result,
// and the action library keeps the functions of tasks that passed, which the second task
// finds with search_actions and calls.

import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ScriptedStep } from "../testing/scripted-openai-server.js";

/** Tasks the demo runs, in this order (family and id as the registry names them). */
export const DEMO_TASKS = [
  { family: "sab", id: "3" },
  { family: "sab", id: "4" },
  { family: "resq", id: "0_0" },
  { family: "mlab", id: "wine-mini" },
] as const;

const py = (text: string): string => JSON.stringify(text);

const PREVIEW_CSV = `import csv


def preview_csv(path: str, rows: int = 3) -> str:
    """Return the columns, the number of rows and the first rows of a CSV file."""
    with open(path, newline="") as handle:
        table = list(csv.reader(handle))
    header, body = table[0], table[1:]
    lines = [f"{path}: {len(body)} rows; columns: {', '.join(header)}"]
    lines += [", ".join(row) for row in body[:rows]]
    return "\\n".join(lines)
`;

const RUN_PROGRAM = `import os
import subprocess


def save_and_run_program(path: str, source: str, timeout: int = 300) -> str:
    """Save a Python program under the current folder and run it as a module; return its output."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as handle:
        handle.write(source)
    module = os.path.splitext(path)[0].replace(os.sep, ".")
    finished = subprocess.run(["python3", "-m", module], capture_output=True, text=True, timeout=timeout)
    if finished.returncode != 0:
        raise RuntimeError(f"{path} failed:\\n{finished.stderr}")
    return finished.stdout or f"{path} ran without output"
`;

function step(thought: string, code: string, when: RegExp): ScriptedStep {
  return { when: { anyMessage: when }, reply: { thought, code } };
}

/** Builds the scripted replies from the bundled tasks' own files under `tasksDirectory`. */
export async function demoReplies(tasksDirectory: string): Promise<ScriptedStep[]> {
  const read = (relative: string): Promise<string> => readFile(path.join(tasksDirectory, relative), "utf8");
  const pm25Program = await read("sab/benchmark/gold_programs/region_pm25_stats.py");
  const stroopProgram = await read("sab/benchmark/gold_programs/stroop_trial_filter.py");
  const sortlinesPatch = ((JSON.parse(await read("resq/dataset.json")) as { id: string; solution_patch: string }[]).find((row) => row.id === "0_0"))!
    .solution_patch;
  const wineTrain = await read("mlab/wine-mini/solution/train.py");

  const pm25 = /PM2\.5 readings/;
  const stroop = /Stroop task data/;
  const sortlines = /`--reverse` option/;
  const wine = /cultivar of a wine/;
  return [
    step(
      "First look at both input tables. A small general helper to preview CSV files will be useful in other tasks too.",
      `${PREVIEW_CSV}\nfor name in ("pm25_daily.csv", "stations.csv"):\n    print(preview_csv("benchmark/datasets/air_quality/" + name))`,
      pm25,
    ),
    step(
      "Write the analysis as a program, save it where the task wants it, and check that it runs; a helper that saves and runs a program is reusable.",
      `${RUN_PROGRAM}\nprint(save_and_run_program("pred_programs/pred_region_pm25_stats.py", ${py(pm25Program)}))\nprint(open("pred_results/region_pm25_stats.csv").read())`,
      pm25,
    ),
    step("The output has one row per region with the requested columns. Submit.", "submit()", pm25),

    step(
      "Earlier tasks may have left helpers for previewing data and running programs: search the library, then use them.",
      `search_actions("preview a csv file", limit=2)\nsearch_actions("save a program and run it", limit=2)\nfor name in ("participants.csv", "trials.csv"):\n    print(preview_csv("benchmark/datasets/stroop/" + name))`,
      stroop,
    ),
    step(
      "Filter the trials with the three rules and write the kept trial ids, with the helper found in the library.",
      `print(save_and_run_program("pred_programs/pred_stroop_trial_filter.py", ${py(stroopProgram)}))\nprint(open("pred_results/stroop_clean_trials.txt").read()[:200])`,
      stroop,
    ),
    step("The file has one trial id per line. Submit.", "submit()", stroop),

    step(
      "Look at the repository: the command's parser and the sorting function.",
      `print(list_files("repo"))\nprint(read_file("repo/sortlines/cli.py"))\nprint(read_file("repo/sortlines/core.py"))`,
      sortlines,
    ),
    step(
      "Add the option to the parser, pass it through to sort_lines, and document it; apply the change as a patch and try it.",
      `import subprocess\nchange = ${py(sortlinesPatch)}\nprint(subprocess.run(["git", "apply", "-"], input=change, text=True, cwd="repo", capture_output=True))\nprint(subprocess.run(["python3", "-m", "sortlines", "--reverse"], input="b\\na\\nc\\n", text=True, cwd="repo", capture_output=True).stdout)`,
      sortlines,
    ),
    step("The lines come out in descending order. Submit.", "submit()", sortlines),

    step(
      "Preview the training data with the library's helper, then read the starter script.",
      `search_actions("preview a csv file", limit=1)\nprint(preview_csv("train.csv"))\nprint(inspect_script_lines("train.py", 1, 60))`,
      wine,
    ),
    step(
      "The measurements have very different scales, so a scale-sensitive model suffers: standardize the features and use a better model, then run the script to write submission.csv.",
      `write_file("train.py", ${py(wineTrain)})\nprint(execute_script("train.py", timeout=120))`,
      wine,
    ),
    step("submission.csv is written by the improved script. Submit.", "submit()", wine),
  ];
}
