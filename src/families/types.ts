// What every task family shares. Each family (mlab, sab, resq) has a loader, a validity check,
// a grader and the pieces the agent needs, behind one FamilyModule interface, so that commands,
// the runner and the agent treat all three alike.

import type { GradingContext } from "../grading/context.js";
import type { Sandbox } from "../sandbox/sandbox.js";
import type { FamilySummary } from "./summary.js";

export const FAMILIES = ["mlab", "sab", "resq"] as const;
export type Family = (typeof FAMILIES)[number];

export interface TaskBase {
  /** Unique within its family: the folder name (mlab), instance_id (sab), id (resq). */
  id: string;
  family: Family;
  /** The file or folder it was loaded from, for messages. */
  origin: string;
  /** Things the user should know about the task as loaded (assumed settings...): runners show, keep and count them. */
  warnings?: string[];
  /**
   * The task needs a GPU (true) or that many GPUs: its agent and grader containers get the user's
   * --gpus devices (src/environments/gpus.ts). An mlab task.json says so; RES-Q and SAB rows have
   * no such field upstream (`--gpus-for all` then counts every task as needing one).
   */
  gpu?: boolean | number;
}

/** What a grader says about one piece of work. */
export interface Verdict {
  taskId: string;
  family: Family;
  /** The family's own success rule (mlab: >10 % improvement; sab: success_rate 1; resq: PASS). */
  passed: boolean;
  /** A number where the family has one (mlab score, sab success_rate, resq 1/0); null when invalid. */
  score: number | null;
  /** The upstream result line, exactly in the upstream shape. */
  upstream: Record<string, unknown>;
  seconds: number;
  /**
   * Signs that the submission may have tampered with its grading (a patch adding a module that
   * shadows the standard library, code reading the test's own source...). The verdict stands,
   * but a person should look; the action library promotes nothing from a flagged task.
   */
  reviewFlags?: string[];
}

/** The result of a bundled task's proof of validity (`dynabox validate`). */
export interface ValidationResult {
  valid: boolean;
  /** Each check by name, with what it measured (scores, verdicts, messages). */
  checks: Record<string, unknown>;
}

/** A family: its loader, validity check, grader, agent hooks and (FamilySummary) how its verdicts are summarized. */
export interface FamilyModule<TTask extends TaskBase, TSubmission> extends FamilySummary {
  family: Family;
  /** Tasks of this family at a path (a task folder, a dataset file, or a folder holding them); [] when none. */
  discover(path: string): Promise<TTask[]>;
  /** The proof of validity of BENCHMARKS.md for this task, run in fresh containers. */
  validate(context: GradingContext, task: TTask): Promise<ValidationResult>;
  /** Grades a submission in a fresh, locked-down container. */
  grade(context: GradingContext, task: TTask, submission: TSubmission): Promise<Verdict>;
  /** The task's prompt for an agent: the instruction and what it must deliver, nothing hidden. */
  describe(task: TTask): string;
  /** Puts what the agent may see into an agent's sandbox workspace (never answers or tests). */
  setUpWorkspace(context: GradingContext, task: TTask, sandbox: Sandbox): Promise<void>;
  /** Takes the agent's work out of its sandbox as this family's submission. */
  collectSubmission(context: GradingContext, task: TTask, sandbox: Sandbox): Promise<TSubmission>;
  /** The image the agent's sandbox runs (a task environment); the sandbox image when absent. */
  agentImage?(context: GradingContext, task: TTask): Promise<string>;
  /** Workspace files the agent's write actions must refuse (glob patterns, workspace-relative). */
  readOnlyPatterns?(task: TTask): string[];
}
