// The error a ScienceAgentBench rows file must be refused with, for tests of the loader's messages.

import { DynaboxError } from "../src/errors.js";
import { loadSabTasks } from "../src/families/sab/task.js";

/** Loads `file`, expecting a DynaboxError; anything else (or success) fails the test. */
export async function sabLoadError(file: string): Promise<DynaboxError> {
  try {
    await loadSabTasks(file);
  } catch (error) {
    if (DynaboxError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected the load to fail");
}
