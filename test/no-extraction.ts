// The extraction sandbox for tests that only search or retrieve from the action library: a
// TaskLibrary needs one, and any call to it means the test reached code it did not mean to, so it
// fails loudly instead of answering.

import type { CellRunner } from "../src/actions/extract.js";

export const noExtraction: CellRunner = {
  exec: async (code) => {
    throw new Error(`this test only retrieves; the extraction sandbox was asked to run: ${code.slice(0, 80)}`);
  },
};
