import type { Command } from "commander";
import { addEngineOptions } from "../engine-options.js";
import { registerActionsCommand } from "./actions.js";
import { registerBenchCommand } from "./bench.js";
import { registerCleanCommand } from "./clean.js";
import { registerCompareCommand } from "./compare.js";
import { registerDemoCommand } from "./demo.js";
import { registerDoctorCommand } from "./doctor.js";
import { registerEvalCommand } from "./eval.js";
import { registerExecCommand } from "./exec.js";
import { registerImageCommand } from "./image.js";
import { registerReportCommand } from "./report.js";
import { registerRunCommand } from "./run.js";
import { registerShowCommand } from "./show.js";
import { registerValidateCommand } from "./validate.js";

/** Adds every subcommand. Each file exports one `register*` function. */
export function registerCommands(program: Command): void {
  registerDoctorCommand(program);
  registerImageCommand(program);
  registerExecCommand(program);
  registerValidateCommand(program);
  registerEvalCommand(program);
  registerRunCommand(program);
  registerCompareCommand(program);
  registerDemoCommand(program);
  registerReportCommand(program);
  registerShowCommand(program);
  registerActionsCommand(program);
  registerCleanCommand(program);
  registerBenchCommand(program);
  addEngineOptions(program, ["doctor", "exec", "validate", "eval", "run", "bench", "clean"]);
}
