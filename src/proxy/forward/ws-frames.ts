import { randomBytes } from 'node:crypto';

/** No header begun. */
const NONE = Buffer.alloc(0);

/** RFC 6455 §7.4.1: the endpoint is going away (a server going down). */
const GOING_AWAY = 1001;

/**
 * Where one direction of a WebSocket tunnel stands between frames (RFC 6455 §5.2): a frame of
 * the gateway's own can go in only at a boundary, never inside a frame the peer is relaying.
 * Only the headers are read (2 to 14 bytes, then the payload's length is skipped).
 */
export class FrameBoundary {
  /** The header of the frame being read, while incomplete (a copy: a chunk is not kept for it). */
  #header: Buffer = NONE;
  /** Payload bytes of the current frame still to come. */
  #payloadLeft = 0;

  get atBoundary(): boolean {
    return this.#header.length === 0 && this.#payloadLeft === 0;
  }

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#payloadLeft > 0) {
        const taken = Math.min(this.#payloadLeft, chunk.length - at);
        this.#payloadLeft -= taken;
        at += taken;
        continue;
      }
      // A header is 14 bytes at most: what is missing of it is in this chunk, or the chunk ends.
      // Read in place unless one began in the chunk before (every frame passes here: no copy each).
      const rest = chunk.subarray(at, at + 14 - this.#header.length);
      const header = this.#header.length === 0 ? rest : Buffer.concat([this.#header, rest]);
      const parsed = headerOf(header);
      if (parsed === undefined) {
        this.#header = Buffer.from(header);
        return;
      }
      at += parsed.size - this.#header.length;
      this.#header = NONE;
      this.#payloadLeft = parsed.payload;
    }
  }
}

/** A frame header's size and its payload's length, or undefined while too little of it came. */
function headerOf(bytes: Buffer): { size: number; payload: number } | undefined {
  if (bytes.length < 2) return undefined;
  const masked = (bytes[1] & 0x80) !== 0;
  const short = bytes[1] & 0x7f;
  const lengthBytes = short === 126 ? 2 : short === 127 ? 8 : 0;
  const size = 2 + lengthBytes + (masked ? 4 : 0);
  if (bytes.length < size) return undefined;
  const payload =
    short === 126 ? bytes.readUInt16BE(2) : short === 127 ? Number(bytes.readBigUInt64BE(2)) : short;
  return { size, payload };
}

/** A Close frame saying 1001; masked toward an upstream (a client's frames are, §5.3). */
export function goingAwayFrame(masked: boolean): Buffer {
  const code = Buffer.alloc(2);
  code.writeUInt16BE(GOING_AWAY);
  if (!masked) return Buffer.concat([Buffer.from([0x88, 0x02]), code]);
  const mask = randomBytes(4);
  for (let i = 0; i < code.length; i++) code[i] ^= mask[i % 4];
  return Buffer.concat([Buffer.from([0x88, 0x82]), mask, code]);
}
