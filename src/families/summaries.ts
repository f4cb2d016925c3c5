// Each family's summary by its name, for code that holds verdicts and a family name but not the
// family's module (stored rows, the run table). Imports no grader, so it is cheap to load.

import { mlabSummary } from "./mlab/summary.js";
import { resqSummary } from "./resq/summary.js";
import { sabSummary } from "./sab/summary.js";
import type { FamilySummaries } from "./summary.js";

export const FAMILY_SUMMARIES: FamilySummaries = { mlab: mlabSummary, sab: sabSummary, resq: resqSummary };
