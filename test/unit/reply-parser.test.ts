import { describe, expect, it } from "vitest";
import { parseReply } from "../../src/agent/reply-parser.js";

describe("parseReply", () => {
  it("reads a structured-output JSON reply", () => {
    const result = parseReply(JSON.stringify({ thought: "load the data", code: "import pandas as pd\nprint(1)" }));
    expect(result).toEqual({ ok: true, format: "json", value: { thought: "load the data", code: "import pandas as pd\nprint(1)" } });
  });

  it("reads JSON inside a ```json fence, with prose around it", () => {
    const reply = 'Here is my step:\n```json\n{"thought": "sum", "code": "print(1 + 1)"}\n```\nDone.';
    expect(parseReply(reply)).toEqual({ ok: true, format: "json", value: { thought: "sum", code: "print(1 + 1)" } });
  });

  it("reads a JSON object embedded in prose without fences", () => {
    const reply = 'Sure. {"thought": "t", "code": "x = 1"} Hope that helps.';
    expect(parseReply(reply)).toMatchObject({ ok: true, format: "json", value: { code: "x = 1" } });
  });

  it("unwraps a python fence the model put inside the JSON code string", () => {
    const reply = JSON.stringify({ thought: "t", code: "```python\nprint('hi')\n```" });
    expect(parseReply(reply)).toMatchObject({ ok: true, value: { code: "print('hi')" } });
  });

  it("takes the first ```python block and the text before it as the thought", () => {
    const reply = "I will count rows first.\n\n```python\nimport pandas as pd\ndf = pd.read_csv('x.csv')\nprint(len(df))\n```\n\nThen plot.\n```python\nplot()\n```";
    expect(parseReply(reply)).toEqual({
      ok: true,
      format: "fenced",
      value: { thought: "I will count rows first.", code: "import pandas as pd\ndf = pd.read_csv('x.csv')\nprint(len(df))" },
    });
  });

  it("accepts ```py and bare ``` fences, and prefers a python block over an earlier bare one", () => {
    expect(parseReply("t\n```py\nx = 2\n```")).toMatchObject({ ok: true, value: { thought: "t", code: "x = 2" } });
    expect(parseReply("```\nx = 3\n```")).toMatchObject({ ok: true, value: { thought: "", code: "x = 3" } });
    const reply = "The output was:\n```\nTraceback ...\n```\nFix:\n```python\nx = 4\n```";
    expect(parseReply(reply)).toMatchObject({ ok: true, value: { code: "x = 4" } });
  });

  it("keeps inner backticks in code and handles CRLF", () => {
    const reply = "t\r\n```python\r\ns = '``'\r\nprint(s)\r\n```\r\n";
    expect(parseReply(reply)).toMatchObject({ ok: true, value: { code: "s = '``'\nprint(s)" } });
  });

  it("returns a typed failure with a corrective message when there is no code", () => {
    const result = parseReply("I think the answer is 42.");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe("no_code");
    expect(result.correctiveMessage).toMatch(/no Python code/);
    expect(result.correctiveMessage).toMatch(/```python/);
  });

  it("flags a code block that was cut off", () => {
    expect(parseReply("t\n```python\nfor i in range(10):\n    print(i")).toMatchObject({ ok: false, reason: "unclosed_fence" });
  });

  it("flags JSON with the wrong shape, and empty code", () => {
    expect(parseReply('{"thought": "t", "cod": "x"}')).toMatchObject({ ok: false, reason: "invalid_json" });
    expect(parseReply('{"thought": "t", "code": "x"')).toMatchObject({ ok: false, reason: "invalid_json" });
    expect(parseReply('{"thought": "t", "code": "   "}')).toMatchObject({ ok: false, reason: "empty_code" });
    expect(parseReply("t\n```python\n\n```")).toMatchObject({ ok: false, reason: "empty_code" });
  });

  it("ignores blocks in other languages", () => {
    expect(parseReply("run this:\n```bash\nls\n```")).toMatchObject({ ok: false, reason: "no_code" });
  });
});
