import { describe, expect, it } from "vitest";
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
      const seen: string[] = [];
      const decoder = new FrameDecoder((stream, payload) => seen.push(`${stream}:${payload.toString()}`));
      decoder.push(all.subarray(0, cut));
      decoder.push(all.subarray(cut));
      expect(seen).toEqual(["1:hello\n", "2:warn", "1:wor", "1:ld\n"]);
    }
  });

  it("cuts lines across chunks and keeps multi-byte characters whole", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    const text = Buffer.from('{"a":"é"}\n{"b":1}\npartial');
    for (const byte of text) splitter.push(Buffer.from([byte]));
    expect(lines).toEqual(['{"a":"é"}', '{"b":1}']);
  });

  it("refuses a line larger than its cap", () => {
    const splitter = new LineSplitter(() => {}, 10);
    expect(() => splitter.push(Buffer.from("x".repeat(11)))).toThrow(/exceeded/);
  });

  it("keeps only the first bytes of diagnostics", () => {
    const text = new BoundedText(5);
    text.push(Buffer.from("abc"));
    text.push(Buffer.from("defgh"));
    expect(text.text()).toBe("abcde");
  });
});
