// How a RES-Q patch reaches `git apply`, exactly as upstream RES-Q does it (Qurrent-AI/RES-Q at
// 39399b1), so that the same patch gets the same verdict and the same feedback text:
//
// - resq/task.py: a patch that is the empty string is never applied: PATCH FAILED with the
//   feedback "Empty patch". Any other string (also one of blanks only) goes to git, which refuses
//   a blank one with its own error.
// - resq/git/utils.py format_patch -> filter_binary_patch: every line starting with "index " is
//   dropped, and binary sections are cut out. Nothing else changes: in particular a missing final
//   newline is NOT added, so git reports "corrupt patch at line N" (N counted after the filter).
// - resq/git/utils.py aapply_patch: `git apply --reject --whitespace=fix -v <file>` from the
//   repository root; a non-zero exit is PATCH FAILED and the feedback is git's stderr, unchanged.
//
// Everything here is pure and unit-tested; the container part is in resq.ts.

/** Upstream's feedback for a patch that is the empty string (resq/task.py). */
export const EMPTY_PATCH_FEEDBACK = "Empty patch";

/** Upstream's apply command (resq/git/utils.py aapply_patch), given the patch file's path. */
export function applyPatchCommand(patchFile: string): string {
  return `git apply --reject --whitespace=fix -v ${patchFile}`;
}

/**
 * Python's str.splitlines(keepends=True): lines end at \n, \r\n, \r, \v, \f, \x1c-\x1e, \x85,
 * \u2028 and \u2029. Upstream's filter walks these lines, so a line "index ..." after a lone \r
 * is dropped too; keeping Python's rule keeps the output byte for byte.
 */
export function pythonSplitLinesKeepEnds(text: string): string[] {
  const lines: string[] = [];
  const boundary = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;
  let start = 0;
  for (let match = boundary.exec(text); match !== null; match = boundary.exec(text)) {
    const end = match.index + match[0].length;
    lines.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** Python's `re.match(r"^...$", line)`: `$` also matches just before one final "\n". */
function matchesWholeLine(pattern: RegExp, line: string): boolean {
  const body = line.endsWith("\n") ? line.slice(0, -1) : line;
  return pattern.test(body);
}

const BINARY_PATCH_START = /^GIT binary patch$/;
/** `.` in Python's re matches anything but "\n"; [^\n] says the same in JavaScript. */
const BINARY_FILES_DIFFER = /^Binary files [^\n]* and [^\n]* differ$/;

/** Upstream's format_patch (filter_binary_patch), rewritten: the text git apply is given. */
export function formatPatchAsUpstream(patch: string): string {
  const lines = pythonSplitLinesKeepEnds(patch);
  const kept: string[] = [];
  let inBinarySection = false;
  let index = 0;
  while (index < lines.length) {
    const line = lines[index]!;
    if (matchesWholeLine(BINARY_PATCH_START, line)) {
      inBinarySection = true;
      index += 1;
      continue;
    }
    if (line.startsWith("index ")) {
      index += 1;
      continue;
    }
    if (matchesWholeLine(BINARY_FILES_DIFFER, line)) {
      inBinarySection = false;
      index += 1;
      continue;
    }
    // "diff --git" whose third line says "Binary files ... differ": the three lines go.
    if (line.startsWith("diff --git ") && index + 2 < lines.length && matchesWholeLine(BINARY_FILES_DIFFER, lines[index + 2]!)) {
      index += 3;
      continue;
    }
    if (!inBinarySection) kept.push(line);
    index += 1;
  }
  return kept.join("");
}

/** What to do with a submitted patch before any container work. */
export type PatchPlan = { apply: false; feedback: string } | { apply: true; text: string };

export function planPatch(patch: string): PatchPlan {
  // resq/task.py tests `if self.submission.patch:`, which is false only for "".
  if (patch === "") return { apply: false, feedback: EMPTY_PATCH_FEEDBACK };
  return { apply: true, text: formatPatchAsUpstream(patch) };
}
