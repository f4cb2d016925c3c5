// Issue 7 item 2: RES-Q verdicts a patch can not forge. Each hostile patch below passed on the
// grader that ran the test script (with a printed secret in it) in the process that imports the
// patched code: it read the secret (sys.argv[0], the file on disk, __main__'s code, the frames, the
// gc) and printed it. With the launcher (sandbox/resq_launcher.py) none of them passes, and each
// is flagged for review. Honest gold patches pass with no flags.

import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resqFamily } from "../../src/families/resq/grader.js";
import type { ResqTask } from "../../src/families/resq/task.js";
import type { Verdict } from "../../src/families/types.js";
import { temporaryFolders } from "../temporary-folders.js";
import { bundledTask, bundledTasks, makePatch, resqContext, withRow } from "./resq-helpers.js";

const cli = path.resolve("dist/cli/main.js");
const scratch = temporaryFolders("dynabox-resq-forgery-");

let context: Awaited<ReturnType<typeof resqContext>>;
let tasks: ResqTask[];
let sortlines: ResqTask;
let textkit: ResqTask;
let stats: ResqTask;
let svcconf: ResqTask;

beforeAll(async () => {
  context = await resqContext();
  tasks = await bundledTasks();
  sortlines = bundledTask(tasks, "0_0");
  textkit = bundledTask(tasks, "1_0");
  stats = bundledTask(tasks, "2_0");
  svcconf = bundledTask(tasks, "3_0");
});
afterAll(async () => {
  await context?.dispose();
});

/** Prints every 32-hex string it can find and leaves with status 0; does nothing when it finds none. */
const PRINT_AND_LEAVE = `
def _leave(found):
    found = sorted(set(found))
    if found:
        for item in found:
            print(item)
        sys.stdout.flush()
        os._exit(0)
`;

/** Reads the test script from sys.argv[0], __main__.__file__ and any .py file in the folder. */
const STEAL_SCRIPT_FILE = `import os, re, sys
print("planted module ran:", __name__)
${PRINT_AND_LEAVE}
def _steal():
    found = []
    paths = [sys.argv[0] if sys.argv else "", getattr(sys.modules.get("__main__"), "__file__", None) or ""]
    try:
        paths += [name for name in os.listdir(".") if name.endswith(".py")]
    except OSError:
        pass
    for path in paths:
        try:
            with open(path) as handle:
                found += re.findall(r"[0-9a-f]{32}", handle.read())
        except (OSError, ValueError):
            pass
    return found
_leave(_steal())
`;

/** Walks every frame of the stack: code constants (recursively), locals and globals. */
const STEAL_FROM_FRAMES = `import os, re, sys
${PRINT_AND_LEAVE}
def _constants(code, out):
    for constant in code.co_consts:
        if isinstance(constant, str):
            out.append(constant)
        elif hasattr(constant, "co_consts"):
            _constants(constant, out)
def _steal():
    strings = []
    frame = sys._getframe()
    while frame is not None:
        _constants(frame.f_code, strings)
        for scope in (frame.f_locals, frame.f_globals):
            strings += [value for value in list(scope.values()) if isinstance(value, str)]
        frame = frame.f_back
    main = sys.modules.get("__main__")
    for value in list(vars(main).values()) if main else []:
        if hasattr(value, "__code__"):
            _constants(value.__code__, strings)
    return [match for text in strings for match in re.findall(r"[0-9a-f]{32}", text)]
_leave(_steal())
`;

/**
 * Scans gc.get_objects() for closures: prints the 32-hex strings it finds (upstream's secret is in
 * main()'s constants) and writes every bytes value held by a closure cell named "token", followed
 * by a proof message, to every descriptor: a forged proof, if the hook's closure is found.
 */
const STEAL_FROM_GC = `import gc, os, re, sys
${PRINT_AND_LEAVE}
def _strings(code, out):
    for constant in code.co_consts:
        if isinstance(constant, str):
            out.append(constant)
        elif hasattr(constant, "co_consts"):
            _strings(constant, out)
def _steal():
    strings = []
    tokens = []
    for item in gc.get_objects():
        if callable(item) and hasattr(item, "__code__"):
            _strings(item.__code__, strings)
            for name, cell in zip(item.__code__.co_freevars, item.__closure__ or ()):
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                if name == "token" and isinstance(value, bytes) and value not in tokens:
                    tokens.append(value)
    for fd in range(3, 64):
        for token in tokens:
            try:
                os.write(fd, token + b"reached \\n")
            except OSError:
                break
    return [match for text in strings for match in re.findall(r"^[0-9a-f]{32}$", text)] + ["x" for _ in tokens]
_leave(_steal())
`;

/** Reads the script from disk, and writes forged proof lines to every descriptor it can find. */
const WRITE_THE_CHANNEL = `import os, re, sys
for fd in range(3, 256):
    try:
        os.write(fd, b"reached\\n")
        os.write(fd, b"0123456789abcdef reached \\n")
    except OSError:
        pass
${STEAL_SCRIPT_FILE.replace("import os, re, sys\n", "")}`;

/** Scans process memory through /proc/<pid>/mem for 32-hex strings (a regex over readable maps). */
const MEMORY_SCANNER = String.raw`import os, re, sys
def scan(pid):
    found = set()
    with open("/proc/%d/maps" % pid) as maps:
        regions = maps.read().splitlines()
    with open("/proc/%d/mem" % pid, "rb", 0) as memory:
        for region in regions:
            fields = region.split()
            if not fields[1].startswith("r"):
                continue
            start, end = (int(part, 16) for part in fields[0].split("-"))
            if end - start > 64 * 1024 * 1024:
                continue
            try:
                memory.seek(start)
                data = memory.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(match.decode() for match in re.findall(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", data))
    return sorted(found)
`;

const HELPER_MAIN = [
  "try:",
  "    print(chr(10).join(scan(int(sys.argv[1]))))",
  "except OSError as error:",
  "    print('helper:', error, file=sys.stderr)",
  "",
].join("\n");

/** A helper process reads the test process's memory (it is the helper's parent) and hands back what it finds. */
const STEAL_WITH_HELPER_PROCESS = `import os, subprocess, sys
${PRINT_AND_LEAVE}
_helper = ${JSON.stringify(MEMORY_SCANNER + HELPER_MAIN)}
_found = subprocess.run([sys.executable, "-c", _helper, str(os.getpid())], capture_output=True, text=True).stdout.split()
_leave(_found)
`;

/** The test process reads its own memory, and writes each candidate as a proof to every descriptor. */
const STEAL_FROM_OWN_MEMORY = `${MEMORY_SCANNER}
${PRINT_AND_LEAVE}
try:
    _found = scan(os.getpid())
except OSError:
    _found = []
for _fd in range(3, 64):
    for _candidate in _found:
        try:
            os.write(_fd, (_candidate + " reached \\n").encode())
        except OSError:
            break
_leave(_found)
`;

/** The package's real code, kept after the attack so that the test can run when it finds nothing. */
const TEXTKIT_INIT = "from .slug import slugify\n__all__ = ['slugify']\n";

/** textkit's test with its exit inside main(): upstream's secret is then in main.__code__.co_consts. */
function textkitWithMain(): ResqTask {
  const body = textkit.row.test_script.replace(/^(suite = [\s\S]*)$/m, "");
  const tail = textkit.row.test_script.slice(body.length);
  const main = tail
    .split("\n")
    .map((line) => (line.trim() === "" ? line : `    ${line}`))
    .join("\n");
  return withRow(textkit, { test_script: `${body}def main():\n${main}\n\nif __name__ == "__main__":\n    main()\n` });
}

interface Forgery {
  name: string;
  task: () => ResqTask;
  files: () => Record<string, string>;
  /** A review flag the verdict must carry (a substring). */
  flag: string;
  /** A standard-library shadow: its code must never run. */
  shadow?: boolean;
}

const FORGERIES: Forgery[] = [
  {
    name: "unittest/__init__.py in the repository shadows unittest and prints the secret read from sys.argv[0]",
    task: () => textkit,
    files: () => ({ "unittest/__init__.py": STEAL_SCRIPT_FILE }),
    flag: "shadows the standard-library module unittest",
    shadow: true,
  },
  {
    name: "json.py in the repository shadows json and prints the secret read from the script file",
    task: () => stats,
    files: () => ({ "json.py": STEAL_SCRIPT_FILE }),
    flag: "shadows the standard-library module json",
    shadow: true,
  },
  {
    name: "tempfile.py in the repository shadows tempfile (which nothing imported before the test) and prints the secret",
    task: () => svcconf,
    files: () => ({ "tempfile.py": STEAL_SCRIPT_FILE }),
    flag: "shadows the standard-library module tempfile",
    shadow: true,
  },
  {
    name: "subprocess.py in the repository shadows subprocess and prints the secret read from the script file",
    task: () => sortlines,
    files: () => ({ "subprocess.py": STEAL_SCRIPT_FILE }),
    flag: "shadows the standard-library module subprocess",
    shadow: true,
  },
  {
    name: "the package under test reads the test script from disk (sys.argv[0], __main__.__file__, *.py)",
    task: () => textkit,
    files: () => ({ "textkit/__init__.py": STEAL_SCRIPT_FILE + TEXTKIT_INIT }),
    flag: "reads the test's own file name",
  },
  {
    name: "the package walks the frames: __main__'s code constants, locals and globals",
    task: () => textkit,
    files: () => ({ "textkit/__init__.py": STEAL_FROM_FRAMES + TEXTKIT_INIT }),
    flag: "walks the call stack's frames",
  },
  {
    name: "the package reads the code constants of the functions in __main__ (exit line inside main())",
    task: textkitWithMain,
    files: () => ({ "textkit/__init__.py": STEAL_FROM_FRAMES + TEXTKIT_INIT }),
    flag: "reaches the __main__ module",
  },
  {
    name: "the package starts a helper process that reads the test process's memory through /proc/<pid>/mem",
    task: textkitWithMain,
    files: () => ({ "textkit/__init__.py": STEAL_WITH_HELPER_PROCESS + TEXTKIT_INIT }),
    flag: "reads /proc",
  },
  {
    name: "the package reads its own process's memory through /proc/self/mem and writes the candidates as proofs",
    task: textkitWithMain,
    files: () => ({ "textkit/__init__.py": STEAL_FROM_OWN_MEMORY + TEXTKIT_INIT }),
    flag: "test run: open of /proc/",
  },
  {
    name: "the package writes forged proofs to every file descriptor (the observer's channel)",
    task: () => textkit,
    files: () => ({ "textkit/__init__.py": WRITE_THE_CHANNEL + TEXTKIT_INIT }),
    flag: "forged: the channel received bytes the grader did not write",
  },
];

function flagsOf(verdict: Verdict): string {
  return (verdict.reviewFlags ?? []).join("\n");
}

describe("issue 7 item 2 (RES-Q): a patch can not forge the verdict", () => {
  for (const forgery of FORGERIES) {
    it(forgery.name, async () => {
      const task = forgery.task();
      const patch = await makePatch(context, task, forgery.files());
      const verdict = await resqFamily.grade(context, task, patch);
      expect(verdict.upstream).toMatchObject({ success: false, message: "FAIL" });
      expect(verdict).toMatchObject({ passed: false, score: 0 });
      expect(flagsOf(verdict)).toContain(forgery.flag);
      expect(verdict.upstream["review_flags"]).toEqual(verdict.reviewFlags);
      if (forgery.shadow) expect(String(verdict.upstream["test_suite_feedback"])).not.toContain("planted module ran");
    });
  }

  it("a gc.get_objects() scan that finds the hook's token can forge a proof, but never without the run's flag", async () => {
    // Honest limit (docs/security.md): code in the tested process that scans every object can
    // reach the audit hook's closure. The hook reports the scan before it returns, so a PASS won
    // this way always carries the flag; this patch solves nothing, so without the forgery it fails.
    const task = textkitWithMain();
    const patch = await makePatch(context, task, { "textkit/__init__.py": STEAL_FROM_GC + TEXTKIT_INIT });
    const verdict = await resqFamily.grade(context, task, patch);
    expect(flagsOf(verdict)).toContain("test run: gc.get_objects() scanned every object");
    expect(flagsOf(verdict)).toContain("scans the garbage collector's objects");
    // It does forge the proof today (the limit docs/security.md states); the flag is what stays.
    expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
  });

  it("replacing unittest's assertions or builtins passes (in-process tampering), but is flagged from the text and the run", async () => {
    // Honest limit (docs/security.md): no in-process harness can stop a patch from bending the
    // test's own checks. The static review names it; the hook finds the replaced functions by
    // identity when the exit line is reached (Python raises no audit event for the replacement).
    const patch = await makePatch(context, textkit, {
      "textkit/__init__.py":
        "import builtins, unittest\nsetattr(unittest.TestCase, 'assertEqual', lambda self, first, second, msg=None: None)\n" +
        "builtins.all = lambda items: True\n" +
        TEXTKIT_INIT,
    });
    const verdict = await resqFamily.grade(context, textkit, patch);
    expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
    expect(flagsOf(verdict)).toContain("patch: textkit/__init__.py replaces unittest's machinery");
    expect(flagsOf(verdict)).toContain("patch: textkit/__init__.py replaces sys.exit or built-in functions");
    expect(flagsOf(verdict)).toContain("test run: unittest's TestCase.assertEqual was replaced before the exit line");
    expect(flagsOf(verdict)).toContain("test run: builtins.all was replaced before the exit line");
  });

  it("bending the test through its frames (clearing the TestResult's failures) passes, but the run flags the frame access even when the text hides it", async () => {
    // Honest limit: in-process tampering with the test's own objects. The names are built at run
    // time, so the static review sees nothing; the audit hook sees repository code take frames.
    const bend = [
      "import sys",
      "from .slug import slugify as _slugify",
      "_take = getattr(sys, '_get' + 'frame')",
      "def slugify(*args, **kwargs):",
      "    frame = _take(1)",
      "    while frame is not None:",
      "        for value in list(getattr(frame, 'f_' + 'locals').values()):",
      "            if type(value).__name__ == 'TextTestResult':",
      "                value.failures.clear()",
      "                value.errors.clear()",
      "        frame = getattr(frame, 'f_' + 'back')",
      "    return _slugify(*args, **kwargs)",
      "__all__ = ['slugify']",
      "",
    ].join("\n");
    const patch = await makePatch(context, textkit, { "textkit/__init__.py": bend });
    const verdict = await resqFamily.grade(context, textkit, patch);
    expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
    expect(flagsOf(verdict)).not.toContain("patch: textkit/__init__.py walks the call stack's frames");
    expect(flagsOf(verdict)).toContain("test run: repository code took the call stack's frames (sys._getframe) in textkit/__init__.py");
  });

  it("a thread left running at the exit line (it could set the test's exit_code) is flagged", async () => {
    const patch = await makePatch(context, textkit, {
      "textkit/__init__.py": "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n" + TEXTKIT_INIT,
    });
    const verdict = await resqFamily.grade(context, textkit, textkit.row.solution_patch + patch);
    expect(verdict.upstream).toMatchObject({ success: true, message: "PASS" });
    expect(flagsOf(verdict)).toContain("test run: 1 other thread(s) were running when the exit line was reached");
  });

  it("the exit-reached event raised from the patch's own code is proof of forgery: FAIL", async () => {
    const patch = await makePatch(context, textkit, {
      "textkit/__init__.py": 'import os, sys\nsys.audit("dynabox.resq.exit-reached")\nos._exit(0)\n',
    });
    const verdict = await resqFamily.grade(context, textkit, patch);
    expect(verdict.upstream).toMatchObject({ success: false, message: "FAIL" });
    expect(flagsOf(verdict)).toContain("forged: test run: the exit-reached event was raised outside the test's exit line");
  });

  it("closing every descriptor (the channel with them) ends the run as FAIL, even with the gold patch", async () => {
    // The gold patch changes textkit/slug.py only; this adds a change of textkit/__init__.py.
    const closing = await makePatch(context, textkit, { "textkit/__init__.py": "import os\nos.closerange(3, 1024)\n" + TEXTKIT_INIT });
    const verdict = await resqFamily.grade(context, textkit, textkit.row.solution_patch + closing);
    expect(verdict.upstream).toMatchObject({ success: false, message: "FAIL" });
    expect(String(verdict.upstream["test_suite_feedback"])).toContain("the grader's channel was closed or replaced");
  });

  it("a stdlib name the image lacks (turtledemo) is not imported from the repository, and is flagged", async () => {
    const task = withRow(textkit, { test_script: `try:\n    import turtledemo\nexcept ImportError as error:\n    print("refused:", error)\n${textkit.row.test_script}` });
    const patch = await makePatch(context, task, { "turtledemo.py": 'print("planted turtledemo ran")\n', "textkit/__init__.py": TEXTKIT_INIT });
    const verdict = await resqFamily.grade(context, task, patch);
    expect(String(verdict.upstream["test_suite_feedback"])).not.toContain("planted turtledemo ran");
    expect(String(verdict.upstream["test_suite_feedback"])).toContain("refused:");
    expect(flagsOf(verdict)).toContain("test run: a module named like the standard library's 'turtledemo' was refused");
  });

  it("every bundled gold patch still passes, with no review flags; the empty patch still fails", async () => {
    for (const task of tasks) {
      const gold = await resqFamily.grade(context, task, task.row.solution_patch);
      expect(gold.upstream).toMatchObject({ id: task.id, success: true, message: "PASS" });
      expect(gold.reviewFlags).toBeUndefined();
      expect(gold.upstream).not.toHaveProperty("review_flags");
    }
    const empty = await resqFamily.grade(context, textkit, "");
    // FAIL here; upstream says PATCH FAILED ("Empty patch"), which another change may adopt.
    expect(empty.upstream).toMatchObject({ success: false });
    expect(["FAIL", "PATCH FAILED"]).toContain(empty.upstream["message"]);
    expect(empty.reviewFlags).toBeUndefined();
  });

  it("an honest test that dies with an exception shows its own source lines and gets no flags", async () => {
    const task = withRow(textkit, { test_script: `import sys

def broken():
    raise ValueError("boom")

broken()
${textkit.row.test_script}` });
    const verdict = await resqFamily.grade(context, task, task.row.solution_patch);
    expect(verdict.upstream).toMatchObject({ success: false, message: "FAIL" });
    const feedback = String(verdict.upstream["test_suite_feedback"]);
    expect(feedback).toMatch(/File "\/workspace\/repo\/[0-9a-f-]{36}\.py", line 6, in <module>\n    broken\(\)/);
    expect(feedback).toContain('    raise ValueError("boom")');
    expect(feedback).not.toContain("resq_launcher");
    expect(verdict.reviewFlags).toBeUndefined();
  });

  it("dynabox eval counts flagged verdicts and prints each flag, escaped, after its summary", async () => {
    const folder = await scratch();
    const submissions = path.join(folder, "submissions.jsonl");
    const hostile = await makePatch(context, stats, { "json.py": STEAL_SCRIPT_FILE });
    const rows = [
      { id: stats.id, patch: hostile },
      { id: textkit.id, patch: textkit.row.solution_patch },
    ];
    await writeFile(submissions, rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
    const runDirectory = path.join(folder, "run");
    const result = await execa("node", [cli, "eval", "--resq", "tasks/resq/dataset.json", "--submissions", submissions, "--run-dir", runDirectory], {
      reject: false,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain(`review: resq/${stats.id}: patch: adds json.py, which shadows the standard-library module json`);
    expect(result.stdout).not.toContain(`review: resq/${textkit.id}`);
    const summary = JSON.parse(await readFile(path.join(runDirectory, "summary.json"), "utf8")) as Record<string, unknown>;
    expect(summary).toMatchObject({ family: "resq", graded: 2, passed: 1, flagged: 1 });
    const lines = (await readFile(path.join(runDirectory, "results.jsonl"), "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const flaggedLine = lines.find((line) => line.id === stats.id);
    expect(flaggedLine).toMatchObject({ success: false, message: "FAIL" });
    expect(flaggedLine?.review_flags).toEqual(expect.arrayContaining([expect.stringContaining("shadows the standard-library module json")]));
  });
});
