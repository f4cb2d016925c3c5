import { describe, expect, it } from "vitest";
import { resqResultsFileText } from "../../src/families/resq/results-file.js";

describe("upstream's results.json (scripts/submit.py: json.dump(..., indent=4))", () => {
  it("is byte for byte what Python writes, non-ASCII and control characters escaped", () => {
    const lines = [
      { id: "0_0", success: true, message: "PASS" as const, test_suite_feedback: "" },
      { id: "1_0", success: false, message: "FAIL" as const, test_suite_feedback: 'caf\u00e9 \u2028 \u{1F600} \x1b[31m tab\t "q" \\\\ \x7f' },
    ];
    // Python 3.11: print(json.dumps(rows, indent=4)) for the same rows.
    const python =
      '[\n    {\n        "id": "0_0",\n        "success": true,\n        "message": "PASS",\n        "test_suite_feedback": ""\n    },\n' +
      '    {\n        "id": "1_0",\n        "success": false,\n        "message": "FAIL",\n' +
      '        "test_suite_feedback": "caf\\u00e9 \\u2028 \\ud83d\\ude00 \\u001b[31m tab\\t \\"q\\" \\\\\\\\ \\u007f"\n    }\n]';
    expect(resqResultsFileText(lines)).toBe(python);
    expect(resqResultsFileText([])).toBe("[]");
  });

  it("keeps upstream's keys in upstream's order, and nothing else", () => {
    const line = { test_suite_feedback: "x", message: "FAIL" as const, success: false, id: "2_0", warnings: ["w"] };
    expect(Object.keys(JSON.parse(resqResultsFileText([line]))[0] as object)).toEqual(["id", "success", "message", "test_suite_feedback"]);
  });
});
