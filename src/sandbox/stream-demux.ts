// Docker multiplexes a non-TTY container's stdout and stderr on one attached stream: each frame
// is an 8-byte header (stream id, three zero bytes, payload size as uint32 big-endian) and the
// payload. This splits the frames and cuts stdout into lines, without copying more than needed.

export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;

export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buffer = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (buffer.length >= 8) {
      const size = buffer.readUInt32BE(4);
      if (buffer.length < 8 + size) break;
      const stream = buffer[0] ?? 0;
      this.onFrame(stream, buffer.subarray(8, 8 + size));
      buffer = buffer.subarray(8 + size);
    }
    this.pending = buffer.length === 0 ? Buffer.alloc(0) : Buffer.from(buffer);
  }
}

/** Collects bytes and calls back once per complete line (without the newline). */
export class LineSplitter {
  private parts: Buffer[] = [];

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = 256 * 1024 * 1024,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(10, start);
    while (newline >= 0) {
      const piece = chunk.subarray(start, newline);
      const line = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.onLine(line.toString("utf8"));
      start = newline + 1;
      newline = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      this.parts.push(chunk.subarray(start));
      if (this.parts.reduce((sum, part) => sum + part.length, 0) > this.maxLineBytes) {
        throw new Error(`a kernel message exceeded ${this.maxLineBytes} bytes`);
      }
    }
  }
}

/** Keeps the first `limit` bytes of a stream, for diagnostics. */
export class BoundedText {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    if (this.size >= this.limit) return;
    const piece = chunk.subarray(0, this.limit - this.size);
    this.parts.push(Buffer.from(piece));
    this.size += piece.length;
  }

  text(): string {
    return Buffer.concat(this.parts).toString("utf8");
  }
}
