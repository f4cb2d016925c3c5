import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { KernelClient, maxLineBytes } from "../../src/sandbox/kernel-client.js";

/** A stream standing in for the container's attach stream: what the test pushes, the client reads. */
function attachStream(): { stream: Duplex; written: string[] } {
  const written: string[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      callback();
    },
  });
  return { stream, written };
}

function frameHeader(size: number): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 1;
  header.writeUInt32BE(size, 4);
  return header;
}

function stdoutFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([frameHeader(payload.length), payload]);
}

describe("the host's side of the kernel protocol under a hostile stream", () => {
  it("ends only this sandbox, as lost, when a line grows past the cap; nothing is thrown", async () => {
    const { stream } = attachStream();
    const lost: string[] = [];
    const client = new KernelClient(stream, (reason) => lost.push(reason));
    stream.push(stdoutFrame(JSON.stringify({ type: "ready", protocol: 1, python: "3" }) + "\n"));
    await client.ready;
    const waiting = client.ping();
    // A frame announcing four gigabytes, fed in megabyte pieces without a newline.
    stream.push(frameHeader(0xffffffff));
    const piece = Buffer.alloc(1024 * 1024, 97);
    for (let sent = 0; sent <= maxLineBytes([]) + piece.length; sent += piece.length) stream.push(piece);
    await expect(waiting).rejects.toMatchObject({ code: "DYNABOX_SANDBOX_LOST", message: expect.stringMatching(/protocol line of over \d+ bytes/) });
    expect(lost).toHaveLength(1);
    expect(client.isClosed).toBe(true);
    await expect(client.ping()).rejects.toMatchObject({ code: "DYNABOX_SANDBOX_LOST" });
  });

  it("refuses host-call arguments over the cap before the handler runs", async () => {
    const { stream, written } = attachStream();
    const client = new KernelClient(stream);
    const seen: unknown[] = [];
    client.setHostCall("search_actions", (args) => {
      seen.push(args);
      return [];
    });
    stream.push(stdoutFrame(JSON.stringify({ type: "call", id: "1", call_id: "1.1", name: "search_actions", args: { query: "a".repeat(100_000) } }) + "\n"));
    stream.push(stdoutFrame(JSON.stringify({ type: "call", id: "1", call_id: "1.2", name: "search_actions", args: { query: "fine" } }) + "\n"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([{ query: "fine" }]);
    const answers = written.map((line) => JSON.parse(line) as { call_id: string; ok: boolean; error?: string });
    expect(answers.find((answer) => answer.call_id === "1.1")).toMatchObject({ ok: false, error: expect.stringMatching(/over the limit/) });
    expect(answers.find((answer) => answer.call_id === "1.2")).toMatchObject({ ok: true });
    client.close("done");
  });
});
