import { describe, expect, it } from "vitest";
import { DynaboxError } from "../../src/errors.js";
import { matchSubmissions, parseResqSubmissions } from "../../src/families/resq/submissions.js";

const codeOf = (work: () => unknown): string | undefined => {
  try {
    work();
  } catch (error) {
    return DynaboxError.isInstance(error) ? error.code : "other";
  }
  return undefined;
};

describe("RES-Q submissions files", () => {
  it("reads upstream's JSON list (scripts/submit.py's json.load) and JSON Lines alike", () => {
    const list = parseResqSubmissions(JSON.stringify([{ id: "0_0", patch: "a" }, { id: "1_0", patch: "" }], null, 2), "subs.json");
    expect(list.format).toBe("json-list");
    expect(list.entries.map(({ id, patch, where }) => [id, patch, where])).toEqual([["0_0", "a", "entry 1"], ["1_0", "", "entry 2"]]);
    const lines = parseResqSubmissions('{"id": "0_0", "patch": "a"}\n\n{"id": 7, "patch": "b"}\n', "subs.jsonl");
    expect(lines.format).toBe("jsonl");
    expect(lines.entries.map(({ id, where }) => [id, where])).toEqual([["0_0", "line 1"], ["7", "line 3"]]);
  });

  it("names each bad entry and keeps the good ones", () => {
    const parsed = parseResqSubmissions(JSON.stringify([{ id: "0_0", patch: null }, "x", { patch: "p" }, { id: "1_0", patch: "p" }]), "subs.json");
    expect(parsed.entries.map((entry) => entry.id)).toEqual(["1_0"]);
    expect(parsed.problems.map((problem) => problem.where)).toEqual(["entry 1", "entry 2", "entry 3"]);
    expect(parsed.problems[0]?.message).toMatch(/entry 1 \(id "0_0"\): "patch" must be a string/);
    expect(parsed.problems[0]?.id).toBe("0_0");
    const lines = parseResqSubmissions('{"id": "0_0", "patch": "a"}\nnot json\n', "subs.jsonl");
    expect(lines.problems.map((problem) => problem.message)).toEqual([expect.stringMatching(/^line 2: not JSON/)]);
  });

  it("refuses a file that is neither format, as a usage problem (nothing to grade)", () => {
    expect(codeOf(() => parseResqSubmissions("[{broken", "subs.json"))).toBe("DYNABOX_INVALID_INPUT");
    expect(codeOf(() => parseResqSubmissions("id,patch\n0_0,x\n", "subs.csv"))).toBe("DYNABOX_INVALID_INPUT");
    expect(codeOf(() => parseResqSubmissions("", "subs.jsonl"))).toBe("DYNABOX_INVALID_INPUT");
  });

  it("refuses one JSON object that is not a submission (an id-to-patch mapping, a wrapper) with the shape to give", () => {
    // Upstream's submit.py iterates the object's keys and stops ("'str' object has no attribute 'get'").
    for (const text of ['{"0_0": "diff --git a/x b/x\\n", "1_0": ""}', '{\n  "submissions": [{"id": "0_0", "patch": ""}]\n}\n']) {
      let message = "";
      try {
        parseResqSubmissions(text, "subs.json");
      } catch (error) {
        expect(DynaboxError.isInstance(error) && error.code).toBe("DYNABOX_INVALID_INPUT");
        message = (error as Error).message;
      }
      expect(message).toMatch(/^subs\.json is one JSON object \(keys "(0_0|submissions)".*not a list of submissions; upstream's scripts\/submit\.py reads a JSON list/);
    }
    // One entry on one line is still JSON Lines with one submission.
    expect(parseResqSubmissions('{"id": "0_0", "patch": ""}', "subs.jsonl").entries).toEqual([{ id: "0_0", patch: "", where: "line 1" }]);
  });

  it("grades the first entry of an id; unknown ids and second entries are problems naming both places", () => {
    const parsed = parseResqSubmissions(JSON.stringify([{ id: "0_0", patch: "a" }, { id: "9_9", patch: "" }, { id: "0_0", patch: "b" }]), "subs.json");
    const { accepted, problems } = matchSubmissions(parsed, new Set(["0_0", "1_0"]), "dataset.json");
    expect(accepted.map((entry) => [entry.id, entry.patch])).toEqual([["0_0", "a"]]);
    expect(problems.map((problem) => problem.message)).toEqual([
      'entry 2: id "9_9" is not in dataset.json (its ids look like "0_0", "1_0")',
      'entry 3: a second submission for id "0_0" (the first is entry 1); only the first is graded',
    ]);
  });
});
