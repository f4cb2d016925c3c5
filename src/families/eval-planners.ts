// Each family's eval planner, for `dynabox eval` to dispatch on the one family flag given.

import type { FamilyEvalPlanner } from "./eval-plan.js";
import { mlabEvalPlanner } from "./mlab/eval-items.js";
import { resqEvalPlanner } from "./resq/eval-items.js";
import { sabEvalPlanner } from "./sab/eval-items.js";

export const EVAL_PLANNERS: readonly FamilyEvalPlanner[] = [resqEvalPlanner, sabEvalPlanner, mlabEvalPlanner];
