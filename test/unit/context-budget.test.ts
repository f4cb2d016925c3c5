import { describe, expect, it } from "vitest";
import { foldNote, planContext, promptBudget, type HistoryStep, type PlanMessage } from "../../src/agent/context-budget.js";
import { chooseContextWindow, isContextOverflowMessage, knownContextWindow, reportedContextWindow, windowFromOverflowMessage } from "../../src/agent/context-window.js";
import { estimateTokens, requestTokens, tokenCounterFor } from "../../src/agent/tokens.js";

// One token per character keeps the arithmetic of these tests checkable by hand.
const count = (text: string): number => text.length;

const head: PlanMessage[] = [
  { role: "system", content: "S".repeat(100) },
  { role: "user", content: "TASK" },
];

function history(steps: number, observationCharacters: number): HistoryStep[] {
  return Array.from({ length: steps }, (_, index) => ({
    step: index + 1,
    code: `value_${index + 1} = ${index + 1}\nprint(value_${index + 1})`,
    ok: index % 5 !== 4,
    messages: [
      { role: "assistant", content: `reply ${index + 1}` },
      { role: "user", content: `Observation:\n${"x".repeat(observationCharacters)}` },
    ],
  }));
}

describe("planContext", () => {
  it("sends everything whole when it fits", () => {
    const steps = history(3, 10);
    const plan = planContext({ head, steps, tail: [], budgetTokens: 10_000, count });
    expect(plan.fits).toBe(true);
    expect(plan.messages).toHaveLength(2 + 6);
    expect([plan.shortened, plan.oneLine, plan.folded, plan.note]).toEqual([[], [], [], null]);
    // 3 priming + per message 4 overhead + text: 104 + 8 + 3 x ((4 + 7) + (4 + 23)) = 229.
    expect(plan.tokens).toBe(3 + 104 + 8 + 3 * (11 + 27));
  });

  it("shortens older observations first and keeps the newest steps whole", () => {
    const steps = history(6, 5_000);
    // Whole: each step costs 11 + (4 + 5013) = 5028; six are 30168 plus 118 fixed.
    const plan = planContext({ head, steps, tail: [], budgetTokens: 20_000, count, shortenCharacters: 1_000 });
    expect(plan.fits).toBe(true);
    expect(plan.shortened).toEqual([1, 2, 3]);
    expect(plan.folded).toEqual([]);
    const lastThree = plan.messages.slice(-6).filter((message) => message.role === "user");
    expect(lastThree.every((message) => message.content.length === 5_013)).toBe(true);
    expect(plan.messages[3]?.content).toContain("characters omitted");
  });

  it("folds the oldest steps into a note on the task, keeps the task whole, and records what it did", () => {
    const steps = history(40, 3_000);
    const budget = 12_000;
    const plan = planContext({ head, steps, tail: [{ role: "user", content: "LAST STEP" }], budgetTokens: budget, count, shortenCharacters: 400 });
    expect(plan.fits).toBe(true);
    expect(plan.tokens).toBeLessThanOrEqual(budget);
    expect(plan.folded.length).toBeGreaterThan(0);
    expect(plan.folded[0]).toBe(1);
    expect(plan.messages[0]?.content).toBe("S".repeat(100));
    expect(plan.messages[1]?.content.startsWith("TASK\n\n[Steps 1-")).toBe(true);
    expect(plan.messages[1]?.content).toContain("- step 30 failed: value_30 = 30 (+1 more lines)");
    expect(plan.messages.at(-1)?.content).toBe("LAST STEP");
    // The three newest steps are whole; every folded step's messages are gone.
    expect(plan.messages.slice(-7, -1).map((message) => message.content.length)).toEqual([8, 3_013, 8, 3_013, 8, 3_013]);
    const sent = plan.messages.length - 3;
    expect(sent).toBe(2 * (40 - plan.folded.length));
    // Folded first, then one line, then shortened: the forms follow the steps' age.
    const order = [...plan.folded, ...plan.oneLine, ...plan.shortened];
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it("degrades the newest steps last and says when even that is not enough", () => {
    const steps = history(2, 2_000);
    const tight = planContext({ head, steps, tail: [], budgetTokens: 600, count, shortenCharacters: 200 });
    expect(tight.fits).toBe(true);
    expect(tight.folded).toEqual([1]);
    const impossible = planContext({ head, steps, tail: [], budgetTokens: 50, count });
    expect(impossible.fits).toBe(false);
    expect(impossible.messages[0]?.content).toBe("S".repeat(100));
  });

  it("shortens tool-call arguments as JSON and keeps tool messages paired", () => {
    const step: HistoryStep = {
      step: 1,
      code: "print(1)",
      ok: true,
      messages: [
        { role: "assistant", content: "", tool_calls: [{ id: "call_1", type: "function", function: { name: "python", arguments: JSON.stringify({ code: "y".repeat(3_000) }) } }] },
        { role: "tool", tool_call_id: "call_1", content: "z".repeat(3_000) },
      ],
    };
    const steps = [step, ...history(3, 10)];
    const plan = planContext({ head, steps, tail: [], budgetTokens: 1_000, count, shortenCharacters: 200 });
    expect(plan.oneLine).toEqual([1]);
    const call = plan.messages.find((message) => message.tool_calls !== undefined);
    expect((JSON.parse(call?.tool_calls?.[0]?.function.arguments ?? "{}") as { code: string }).code.length).toBeLessThan(300);
    expect(plan.messages.find((message) => message.role === "tool")?.tool_call_id).toBe("call_1");
  });
});

describe("foldNote", () => {
  it("lists recent folded steps and counts older ones", () => {
    const steps = history(35, 1);
    const note = foldNote(steps) ?? "";
    expect(note.split("\n")[0]).toBe("[Steps 1-35 were folded to fit the context window. What they did:]");
    expect(note).toContain("- steps 1-5: 4 ran or had no code, 1 failed");
    expect(note).toContain("- step 6 ran: value_6 = 6 (+1 more lines)");
    expect(foldNote([])).toBeNull();
  });
});

describe("budgets and windows", () => {
  it("leaves room for the reply", () => {
    expect(promptBudget(8_192)).toBe(Math.floor(8_192 * 0.98) - 2_048);
    expect(promptBudget(128_000)).toBe(125_440 - 4_096);
    expect(promptBudget(8_192, 1_000)).toBe(8_028 - 1_000);
  });

  it("takes the window from the flag, the server, the table, then the default", () => {
    expect(chooseContextWindow("x", 4_096, [{ id: "x", max_model_len: 32_768 }])).toEqual({ tokens: 4_096, source: "flag" });
    expect(chooseContextWindow("Qwen/Qwen2.5-7B", undefined, [{ id: "Qwen/Qwen2.5-7B", max_model_len: 16_384 }])).toEqual({ tokens: 16_384, source: "server" });
    expect(chooseContextWindow("gpt-4o-mini", undefined, undefined)).toEqual({ tokens: 128_000, source: "table" });
    expect(chooseContextWindow("my-model", undefined, [{ id: "other" }, { id: "my-model" }])).toEqual({ tokens: 8_192, source: "default" });
    expect(knownContextWindow("meta-llama/Llama-3.1-8B-Instruct".toLowerCase())).toBe(131_072);
    expect(reportedContextWindow({ id: "m", meta: { n_ctx_train: 4_096 } })).toBe(4_096);
  });

  it("recognises context-length errors and the window they name", () => {
    const vllm = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (8000 in the messages, 1000 in the completion).";
    expect(isContextOverflowMessage(vllm)).toBe(true);
    expect(windowFromOverflowMessage(vllm)).toBe(8_192);
    expect(isContextOverflowMessage("Error code: context_length_exceeded")).toBe(true);
    expect(isContextOverflowMessage("the model endpoint answered HTTP 400: invalid model")).toBe(false);
  });
});

describe("token counters", () => {
  it("counts OpenAI models with their tokenizer and others with the documented estimate", () => {
    const openai = tokenCounterFor("gpt-4o-mini");
    expect(openai.encoding).toBe("o200k_base");
    expect(openai.count("hello world")).toBe(2);
    const other = tokenCounterFor("qwen2.5-coder:7b");
    expect(other.encoding).toBe("estimate");
    expect(other.count("abcdefg")).toBe(3);
    expect(estimateTokens("abcdef")).toBe(2);
  });

  it("raises the estimate when the server counts more, never lowers it", () => {
    const counter = tokenCounterFor("local");
    counter.calibrate(100, 80);
    expect(counter.factor).toBe(1);
    counter.calibrate(100, 150);
    expect(counter.factor).toBeCloseTo(1.575, 6);
    expect(counter.count("abcdef")).toBe(Math.ceil(2 * 1.575));
  });

  it("counts a request: messages with overhead, tool calls, extras", () => {
    expect(requestTokens([{ role: "user", content: "abcd" }], count)).toBe(3 + 4 + 4);
    expect(requestTokens([{ role: "user", content: "abcd" }], count, [{ a: 1 }])).toBe(11 + 7);
  });
});
