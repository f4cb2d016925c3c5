import { describe, expect, it } from "vitest";
import { LINE_BASE_BYTES, maxLineBytes } from "../../src/sandbox/kernel-client.js";
import { BoundedText, FrameDecoder, LineSplitter } from "../../src/sandbox/stream-demux.js";

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("docker stream frames", () => {
  it("splits frames that arrive cut at any byte", () => {
    const all = Buffer.concat([frame(1, "hello\n"), frame(2, "warn"), frame(1, "wor"), frame(1, "ld\n")]);
    for (let cut = 0; cut <= all.length; cut++) {
      const seen = new Map<number, string>();
      const decoder = new FrameDecoder((stream, payload) => seen.set(stream, (seen.get(stream) ?? "") + payload.toString()));
      decoder.push(all.subarray(0, cut));
      decoder.push(all.subarray(cut));
      expect(seen.get(1)).toBe("hello\nworld\n");
      expect(seen.get(2)).toBe("warn");
    }
  });

  it("passes a frame's payload on as it arrives instead of waiting for a huge announced size", () => {
    const header = Buffer.alloc(8);
    header[0] = 1;
    header.writeUInt32BE(0xffffffff, 4); // four gigabytes announced
    let received = 0;
    const decoder = new FrameDecoder((_stream, payload) => {
      received += payload.length;
    });
    decoder.push(header);
    decoder.push(Buffer.alloc(1000, 97));
    expect(received).toBe(1000);
  });

  it("cuts lines across chunks and keeps multi-byte characters whole", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    const text = Buffer.from('{"a":"é"}\n{"b":1}\npartial');
    for (const byte of text) splitter.push(Buffer.from([byte]));
    expect(lines).toEqual(['{"a":"é"}', '{"b":1}']);
  });

  it("drops a line larger than its cap, says so once, and goes on with the next line", () => {
    const lines: string[] = [];
    const overflows: number[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), () => 10, (bytes) => overflows.push(bytes));
    splitter.push(Buffer.from("x".repeat(8)));
    splitter.push(Buffer.from("y".repeat(8)));
    splitter.push(Buffer.from("z".repeat(50) + "\nshort\n"));
    expect(overflows).toEqual([16]);
    expect(lines).toEqual(["short"]);
  });

  it("drops a whole oversized line that arrives in one chunk", () => {
    const lines: string[] = [];
    const overflows: number[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), () => 4, (bytes) => overflows.push(bytes));
    splitter.push(Buffer.from("abcdefgh\nok\n"));
    expect(overflows).toEqual([8]);
    expect(lines).toEqual(["ok"]);
  });

  it("accepts lines as long as the sandbox's output caps allow, and no longer", () => {
    expect(maxLineBytes([])).toBe(LINE_BASE_BYTES + 12 * 64 * 1024);
    expect(maxLineBytes([1024 * 1024, 10])).toBe(LINE_BASE_BYTES + 12 * 1024 * 1024);
  });

  it("keeps only the first bytes of diagnostics", () => {
    const text = new BoundedText(5);
    text.push(Buffer.from("abc"));
    text.push(Buffer.from("defgh"));
    expect(text.text()).toBe("abcde");
  });
});
