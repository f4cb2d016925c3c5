// The supervisor's checks of the worker's control messages (sandbox/worker_messages.py), run
// with the host's python3: every malformed line is the worker's fault, every forwarded field
// is typed and within its cap.

import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);

/** Runs `body` with worker_messages imported as `w`; `body` prints one JSON document. */
async function python(body: string): Promise<unknown> {
  const script = `import json, sys\nsys.path.insert(0, ${JSON.stringify(path.resolve("sandbox"))})\nimport worker_messages as w\n${body}`;
  const { stdout } = await run("python3", ["-c", script], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as unknown;
}

describe("the supervisor's checks of worker messages", () => {
  it("faults every line that is not a well-formed message", async () => {
    const verdicts = await python(`
lines = [b'[1, 2]', b'"text"', b'null', b'7', b'not json', b'{"type": "nonsense"}', b'{"type": "done"}',
         b'{"type": "call", "id": 5}', b'[' * 100000 + b']' * 100000, b'\\xff\\xfe']
out = []
for line in lines:
    try:
        w.parse_worker_line(line)
        out.append("accepted")
    except w.WorkerFault as fault:
        out.append(str(fault))
print(json.dumps(out))`);
    expect(verdicts).toHaveLength(10);
    expect(verdicts).not.toContain("accepted");
  });

  it("faults a done message whose fields have the wrong types", async () => {
    const verdicts = await python(`
messages = [{"value": 1}, {"error": "text"}, {"error": {"name": 1}}, {"events": "x"}, {"events": [7]}, {"events": [{"name": 3}]}]
out = []
for message in messages:
    try:
        w.checked_outcome(message)
        out.append("accepted")
    except w.WorkerFault as fault:
        out.append(str(fault))
print(json.dumps(out))`);
    expect(verdicts).toHaveLength(6);
    expect(verdicts).not.toContain("accepted");
  });

  it("cuts texts, drops oversized events, turns NaN into null and refuses oversized host calls", async () => {
    const result = (await python(`
line = b'{"type":"done","id":"1","value":null,"error":null,"events":[{"name":"n","payload":NaN}],"cpu_ms":Infinity,"peak_mem_mb":true}'
nan = w.checked_outcome(w.parse_worker_line(line))
cut = w.checked_outcome({"value": "v" * 10**6, "error": {"name": "N" * 10**5, "message": "m" * 10**6, "traceback": "t" * 10**7}})
big = w.checked_outcome({"events": [{"name": "e", "payload": "x" * (2 * 1024 * 1024)}]})
many = w.checked_outcome({"events": [{"name": "e", "payload": [0] * 100000}]})
call = w.checked_call({"name": "search_actions", "args": {"query": "q" * 100000}})
fine = w.checked_call({"name": "search_actions", "args": {"query": "q"}})
print(json.dumps({
  "nan": nan, "value": len(cut["value"]), "name": len(cut["error"]["name"]), "message": len(cut["error"]["message"]),
  "traceback": len(cut["error"]["traceback"]), "recut": w.clip(cut["value"], w.VALUE_LIMIT) == cut["value"],
  "big": [big["events"], big["error"]["name"]], "many": [many["events"], many["error"]["name"]],
  "call": [call[1], call[2]], "fine": list(fine)}))`)) as Record<string, unknown>;
    expect(result.nan).toMatchObject({ value: null, events: [{ name: "n", payload: null }], cpu_ms: null, peak_mem_mb: null });
    expect(result.value).toBeLessThanOrEqual(20_000);
    expect(result.name).toBeLessThanOrEqual(256);
    expect(result.message).toBeLessThanOrEqual(16 * 1024);
    expect(result.traceback).toBeLessThanOrEqual(64 * 1024);
    expect(result.recut).toBe(true);
    expect(result.big).toEqual([[], "DynaboxLimitError"]);
    expect(result.many).toEqual([[], "DynaboxLimitError"]);
    expect(result.call).toEqual([null, expect.stringMatching(/over the limit/)]);
    expect(result.fine).toEqual(["search_actions", { query: "q" }, null]);
  });
});
