// Exact-duplicate detection. Comparing source text would call two functions different when only
// a comment, a blank line or the docstring changed; comparing names would merge a bug fix into
// the buggy original. So the sandbox's extractor produces a normal form (Python's `ast.dump` of
// the function without its docstring, which drops comments, layout and positions, followed by
// the import statements it needs, so `from math import sqrt` and `from numpy import sqrt` differ),
// and the host hashes it. Equal hashes: the same function, whatever the formatting.

import { createHash } from "node:crypto";

/** sha256 (hex) of an extracted function's `normal_form`. */
export function normalHash(normalForm: string): string {
  return createHash("sha256").update(normalForm, "utf8").digest("hex");
}
