/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The HTML report in a real browser: Debian's chromium driven by playwright-core opens the report
// of a real run (the demo: the scripted server, real sandboxes, real graders), checks the summary
// figures against summary.json, filters the table, opens a task and its diff, and keeps a
// screenshot. Then a run folder full of hostile text: nothing in it may execute or become markup.
// `dynabox show` prints the same on the terminal.

import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScriptedOpenAIServer } from "../../src/testing/index.js";
import { HOSTILE_ID, HOSTILE_PAYLOADS, writeHostileRun } from "../report-fixture.js";

const cli = path.resolve("dist/cli/main.js");
const BROWSER = "/usr/bin/chromium";
/** Screenshots are kept here for CI to collect (DYNABOX_TEST_ARTIFACTS overrides). */
const artifacts = path.resolve(process.env.DYNABOX_TEST_ARTIFACTS ?? "test-artifacts");
const browserPresent = existsSync(BROWSER);

let scratch: string;
let demo: string;
let browser: BrowserContext | undefined;

beforeAll(async () => {
  if (!browserPresent && process.env.CI) throw new Error(`CI=true: the report's browser test needs ${BROWSER}; .ci/run installs it with scripts/ensure-chromium.sh`);
  scratch = await mkdtemp(path.join(tmpdir(), "dynabox-report-browser-"));
  demo = path.join(scratch, "demo");
  const result = await execa("node", [cli, "demo", "--json", "--run-dir", demo], { reject: false });
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stderr).toContain(`report: ${path.join(demo, "report.html")}`);
  if (!browserPresent) return;
  // A fresh profile, no network services, no sandbox (the test runs as root in a container).
  browser = await chromium.launchPersistentContext(path.join(scratch, "profile"), {
    executablePath: BROWSER,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
    offline: true,
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Opens a report; collects page errors, dialogs and console messages (CSP violations show there). */
async function open(file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser!.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => problems.push(`console ${message.type()}: ${message.text()}`));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on("request", (request) => {
    if (!request.url().startsWith("file://")) problems.push(`request: ${request.url()}`);
  });
  await page.goto(`file://${file}`);
  return { page, problems };
}

const visibleRows = (page: Page): Promise<string[]> =>
  page.$$eval("#task-table tbody tr", (rows) => (rows as HTMLTableRowElement[]).filter((row) => !row.hidden).map((row) => `${row.getAttribute("data-family")}/${row.cells[0]!.textContent!.trim()}`));

describe.skipIf(!browserPresent && !process.env.CI)("the HTML report in chromium", () => {
  it("shows the demo's figures as summary.json has them, filters and sorts the table, opens a task and its diff", async () => {
    const summary = JSON.parse(await readFile(path.join(demo, "summary.json"), "utf8")) as {
      families: Array<Record<string, unknown>>;
      totals: { tasks: number; tokens: number; cost_usd: number };
    };
    const { page, problems } = await open(path.join(demo, "report.html"));
    const metric = (name: string): Promise<string | null> => page.getAttribute(`[data-metric="${name}"]`, "data-value");
    const checked: Record<string, string> = { mlab: "success_rate", sab: "SR", resq: "pass@1" };
    for (const table of summary.families) {
      const family = String(table.family);
      expect(Number(await metric(`${family}.${checked[family]}`))).toBe(table[checked[family]!]);
      expect(Number(await metric(`${family}.tasks`))).toBe(table.tasks);
      expect(Number(await metric(`${family}.errors`))).toBe(table.errors);
    }
    expect(Number(await metric("sab.VER"))).toBe(summary.families.find((table) => table.family === "sab")!.VER);
    expect(Number(await metric("totals.tasks"))).toBe(summary.totals.tasks);
    expect(Number(await metric("totals.tokens"))).toBe(summary.totals.tokens);
    expect(Number(await metric("totals.cost_usd"))).toBeCloseTo(summary.totals.cost_usd, 9);
    await expect(page.textContent('[data-metric="resq.pass@1"]')).resolves.toBe("100.0 %");
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, "report-demo-summary.png") });

    expect(await visibleRows(page)).toEqual(["mlab/wine-mini", "resq/0_0", "sab/3", "sab/4"]);
    await page.selectOption("#filter-family", "sab");
    expect(await visibleRows(page)).toEqual(["sab/3", "sab/4"]);
    await expect(page.textContent("#shown-count")).resolves.toBe("2");
    await page.selectOption("#filter-outcome", "passed");
    expect(await visibleRows(page)).toEqual(["sab/3", "sab/4"]);
    await page.selectOption("#filter-family", "");
    await page.fill("#filter-text", "resq/");
    expect(await visibleRows(page)).toEqual(["resq/0_0"]);
    await page.fill("#filter-text", "");
    // Sorting by tokens, then the other way.
    await page.click("#task-table th:nth-child(8)");
    expect(await visibleRows(page)).toEqual(["mlab/wine-mini", "sab/4", "resq/0_0", "sab/3"]);
    await page.click("#task-table th:nth-child(8)");
    expect(await visibleRows(page)).toEqual(["sab/3", "resq/0_0", "sab/4", "mlab/wine-mini"]);

    // Open the RES-Q task from the table: its details open, with the patch as a rendered diff.
    await page.click('#task-table a:text-is("0_0")');
    const task = page.locator("details.task[data-family=resq]");
    await expect(task.getAttribute("open")).resolves.not.toBeNull();
    const diff = task.locator(".d2h-file-wrapper").first();
    expect(await diff.isVisible()).toBe(true);
    const patch = await readFile(path.join(demo, "submissions", "resq", "0_0", "attempt-1.diff"), "utf8");
    const added = patch.split("\n").find((line) => line.startsWith("+") && !line.startsWith("+++") && line.trim().length > 4)!.slice(1).trim();
    expect(await diff.textContent()).toContain(added);
    expect(await task.locator(".feedback").first().textContent()).toBe("PASS");
    // The task as the agent was told it, one click away.
    await task.locator("details.prompt > summary").click();
    expect(await task.locator("details.prompt").textContent()).toContain("reverse");
    // A step opens and shows its code.
    await task.locator("details.step > summary").first().click();
    expect(await task.locator("details.step pre.code").first().isVisible()).toBe(true);
    await diff.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(artifacts, "report-demo-task.png") });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("runs nothing and makes no markup from hostile text anywhere in a run folder", async () => {
    const hostile = path.join(scratch, "hostile");
    await writeHostileRun(hostile);
    const written = await execa("node", [cli, "report", hostile, "--out", path.join(hostile, "out", "r.html")], { reject: false });
    expect(written.exitCode, written.stderr).toBe(0);
    const { page, problems } = await open(path.join(hostile, "out", "r.html"));
    // Open every task and step, hover and click everything: any handler that got in would fire.
    await page.$$eval("details", (elements) => elements.forEach((element) => ((element as HTMLDetailsElement).open = true)));
    for (const row of await page.$$("#task-table tbody tr td")) await row.hover();
    for (const link of await page.$$("#task-table a")) await link.click();
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: unknown }).__pwned ?? null,
      scripts: document.scripts.length,
      injected: document.querySelectorAll(".pwned, iframe, img, textarea, a[href^='javascript']").length,
      handlers: [...document.querySelectorAll("*")].flatMap((element) => [...element.attributes].filter((attribute) => attribute.name.startsWith("on")).map((attribute) => `${element.tagName} ${attribute.name}`)),
      text: document.body.innerText,
    }));
    expect(state).toMatchObject({ pwned: null, scripts: 1, injected: 0, handlers: [] });
    // The text is all there for a reader, as text.
    for (const payload of HOSTILE_PAYLOADS) expect(state.text).toContain(payload);
    expect(state.text).toContain(HOSTILE_ID);
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe("a failed task", () => {
  it("says why on its terminal line, in summary.json, in the trajectory's end line, in show and in the report", async () => {
    await using server = await startScriptedOpenAIServer({
      replies: [
        { reply: { thought: "write a program that prints and writes nothing", code: "import os\nos.makedirs('pred_programs', exist_ok=True)\nopen('pred_programs/pred_stroop_trial_filter.py', 'w').write('print(1)')" } },
        { reply: "```python\nsubmit()\n```" },
      ],
    });
    const run = path.join(scratch, "failed");
    const result = await execa("node", [cli, "run", "tasks/sab/tasks.jsonl", "--task", "sab/4", "--model", "scripted", "--base-url", server.url, "--api-key", "x", "--max-steps", "3", "--library", path.join(scratch, "failed-actions.sqlite"), "--run-dir", run], { reject: false });
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(await readFile(path.join(run, "summary.json"), "utf8")) as { tasks: Array<{ outcome: string; reason: string }> };
    const reason = summary.tasks[0]!.reason;
    expect(summary.tasks[0]!.outcome).toBe("failed");
    expect(reason).toMatch(/^program invalid: /);
    expect(result.stderr).toMatch(new RegExp(`✗ sab/4 failed in [0-9.]+ s: ${reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}; 2 step\\(s\\)`));
    const lines = (await readFile(path.join(run, "trajectories", "sab", "4", "attempt-1.jsonl"), "utf8")).trim().split("\n");
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ type: "end", stop_reason: "submitted", verdict: { outcome: "failed", reason, passed: false, upstream: { valid_program: 0 } } });
    expect((await execa("node", [cli, "show", run])).stdout).toContain(`✗ sab/4 failed, 2 step(s): ${reason}`);
    expect(await readFile(path.join(run, "submissions", "sab", "4", "attempt-1.diff"), "utf8")).toContain("+print(1)");
    if (!browser) return;
    const { page, problems } = await open(path.join(run, "report.html"));
    await page.selectOption("#filter-outcome", "failed");
    expect(await visibleRows(page)).toEqual(["sab/4"]);
    await page.click('#task-table a:text-is("4")');
    await expect(page.textContent("details.task[open] dd.why")).resolves.toBe(reason);
    expect(await page.getAttribute('[data-metric="sab.SR"]', "data-value")).toBe("0");
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe("dynabox show", () => {
  it("prints the run's metrics and a line per task, one task in full, and names the tasks when one is unknown", async () => {
    const listing = await execa("node", [cli, "show", demo]);
    expect(listing.stdout).toContain("resq     1 task(s): pass@1 100.0 %, 0 infrastructure error(s)");
    expect(listing.stdout).toMatch(/✓ sab\/4 passed score 1, 3 step\(s\)/);
    const task = await execa("node", [cli, "show", demo, "resq/0_0"]);
    expect(task.stdout).toContain("── submission");
    expect(task.stdout).toContain("── grader: message\n  PASS");
    expect(task.stdout).toContain("── step 3:");
    const unknown = await execa("node", [cli, "show", demo, "resq/nope"], { reject: false });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("it holds: mlab/wine-mini, resq/0_0, sab/3, sab/4");
    const notRun = await execa("node", [cli, "report", scratch], { reject: false });
    expect(notRun.exitCode).toBe(2);
    expect(notRun.stderr).toContain("is not a run folder (no results.sqlite or summary.json)");
    const written = await execa("node", [cli, "report", demo, "--out", path.join(scratch, "copy.html")]);
    expect(written.stdout.trim()).toBe(path.join(scratch, "copy.html"));
    expect(await readFile(path.join(scratch, "copy.html"), "utf8")).toContain("dynabox run: scripted-demo, 4 task(s)");
  });
});
