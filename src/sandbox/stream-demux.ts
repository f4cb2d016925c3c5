// Docker multiplexes a non-TTY container's stdout and stderr on one attached stream: each frame
// is an 8-byte header (stream id, three zero bytes, payload size as uint32 big-endian) and the
// payload. This splits the frames and cuts stdout into lines, without copying more than needed
// and without ever holding more than one capped line: a frame's payload is passed on as it
// arrives, whatever size its header announces.

export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;

const HEADER_BYTES = 8;

export class FrameDecoder {
  private header = Buffer.alloc(0);
  private stream = 0;
  private remaining = 0;

  constructor(private readonly onFrame: (stream: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const end = Math.min(chunk.length, offset + this.remaining);
        this.remaining -= end - offset;
        this.onFrame(this.stream, chunk.subarray(offset, end));
        offset = end;
        continue;
      }
      if (this.header.length === 0 && chunk.length - offset >= HEADER_BYTES) {
        // The usual case: the whole header is in this chunk; read it in place.
        this.stream = chunk[offset] ?? 0;
        this.remaining = chunk.readUInt32BE(offset + 4);
        offset += HEADER_BYTES;
        continue;
      }
      const needed = HEADER_BYTES - this.header.length;
      const piece = chunk.subarray(offset, offset + needed);
      this.header = this.header.length === 0 ? Buffer.from(piece) : Buffer.concat([this.header, piece]);
      offset += piece.length;
      if (this.header.length < HEADER_BYTES) return;
      this.stream = this.header[0] ?? 0;
      this.remaining = this.header.readUInt32BE(4);
      this.header = Buffer.alloc(0);
    }
  }
}

/**
 * Collects bytes and calls back once per complete line (without the newline). A line that
 * grows past `maxLineBytes()` is never held: `onOverflow` is told once and the rest of that
 * line is dropped up to its newline.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes: () => number = () => 16 * 1024 * 1024,
    private readonly onOverflow: (bytes: number) => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    let newline = chunk.indexOf(10, start);
    while (newline >= 0) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      newline = chunk.indexOf(10, start);
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      if (this.size + piece.length > this.maxLineBytes()) {
        this.overflow(piece.length);
        this.discarding = false;
        continue;
      }
      const line = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.size = 0;
      this.onLine(line.toString("utf8"));
    }
    if (start < chunk.length && !this.discarding) {
      const rest = chunk.subarray(start);
      if (this.size + rest.length > this.maxLineBytes()) {
        this.overflow(rest.length);
        return;
      }
      this.parts.push(rest);
      this.size += rest.length;
    }
  }

  private overflow(extra: number): void {
    const bytes = this.size + extra;
    this.parts = [];
    this.size = 0;
    this.discarding = true;
    this.onOverflow(bytes);
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
