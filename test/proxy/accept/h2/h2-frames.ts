/**
 * A raw HTTP/2 client for the hostile-client tests: frames written byte by byte on node:net
 * (RFC 9113 §4.1), header blocks as HPACK literals without indexing (RFC 7541 §6.2.2, no
 * Huffman), and a reader that collects what the server sends back. node:http2's own client
 * cannot misbehave the way these tests need (a RST_STREAM storm, endless CONTINUATION, a
 * window never opened).
 */
import net from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settings(entries: readonly [number, number][] = []): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, payload);
}

export const settingsAck = (): Buffer => frame(FRAME.SETTINGS, FLAG.ACK, 0);

export function ping(data = 'pingpong'): Buffer {
  return frame(FRAME.PING, 0, 0, Buffer.from(data.padEnd(8).slice(0, 8), 'latin1'));
}

export function rstStream(streamId: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export function windowUpdate(streamId: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment);
  return frame(FRAME.WINDOW_UPDATE, 0, streamId, payload);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, firstByte = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A header block of literal fields without indexing (no Huffman), optionally after a table size update. */
export function headerBlock(fields: readonly [string, string][], tableSizeUpdate?: number): Buffer {
  const bytes: number[] = [];
  if (tableSizeUpdate !== undefined) bytes.push(...hpackInteger(tableSizeUpdate, 5, 0x20));
  for (const [name, value] of fields) {
    bytes.push(0x00, ...hpackInteger(name.length, 7), ...Buffer.from(name, 'latin1'));
    bytes.push(...hpackInteger(value.length, 7), ...Buffer.from(value, 'latin1'));
  }
  return Buffer.from(bytes);
}

/**
 * An HPACK bomb (RFC 7541 §7.3): one field of `valueLength` bytes put in the dynamic table
 * (a literal with incremental indexing), then referenced `times` more by its index (62, the
 * first dynamic entry): a byte each on the wire, the whole field each once decoded.
 */
export function tableEntryRepeated(name: string, valueLength: number, times: number): Buffer {
  const literal = [
    0x40,
    ...hpackInteger(name.length, 7),
    ...Buffer.from(name, 'latin1'),
    ...hpackInteger(valueLength, 7),
  ];
  return Buffer.concat([
    Buffer.from(literal),
    Buffer.alloc(valueLength, 'b'),
    Buffer.alloc(times, 0x80 | 62),
  ]);
}

export function requestFields(
  path = '/',
  method = 'GET',
  extra: [string, string][] = [],
): [string, string][] {
  return [
    [':method', method],
    [':scheme', 'http'],
    [':authority', 'example.test'],
    [':path', path],
    ...extra,
  ];
}

export function headers(
  streamId: number,
  block: Buffer,
  options: { endStream?: boolean; endHeaders?: boolean } = {},
): Buffer {
  let flags = 0;
  if (options.endStream ?? true) flags |= FLAG.END_STREAM;
  if (options.endHeaders ?? true) flags |= FLAG.END_HEADERS;
  return frame(FRAME.HEADERS, flags, streamId, block);
}

export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** The GOAWAY's error code, or undefined. */
export function goawayCode(f: ReceivedFrame): number | undefined {
  return f.type === FRAME.GOAWAY ? f.payload.readUInt32BE(4) : undefined;
}

/** A raw client connected to a server: sends bytes, collects frames, knows when the server closed. */
export class RawH2Client {
  readonly socket: net.Socket;
  readonly frames: ReceivedFrame[] = [];
  #buffer = Buffer.alloc(0);
  #closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 9) {
        const length = this.#buffer.readUIntBE(0, 3);
        if (this.#buffer.length < 9 + length) break;
        this.frames.push({
          type: this.#buffer[3],
          flags: this.#buffer[4],
          streamId: this.#buffer.readUInt32BE(5) & 0x7fffffff,
          payload: this.#buffer.subarray(9, 9 + length),
        });
        this.#buffer = this.#buffer.subarray(9 + length);
      }
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /** Connects and sends nothing: the test writes the preface itself (a client that never acknowledges SETTINGS). */
  static async open(port: number): Promise<RawH2Client> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawH2Client(socket);
  }

  /** Connects and sends the preface with `initial` settings (and the ACK of the server's, once seen). */
  static async connect(port: number, initial: readonly [number, number][] = []): Promise<RawH2Client> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawH2Client(socket);
    client.send(Buffer.concat([PREFACE, settings(initial)]));
    await client.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0);
    client.send(settingsAck());
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends, ignoring a write after the server closed (a flood keeps writing until it notices). */
  send(bytes: Buffer): boolean {
    if (this.#closed || this.socket.destroyed) return false;
    return this.socket.write(bytes);
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves with the first frame matching, or rejects when the connection closes without one. */
  async waitFor(match: (f: ReceivedFrame) => boolean): Promise<ReceivedFrame> {
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.#closed) throw new Error('connection closed without the frame');
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** The GOAWAY the server sent (waits for it). */
  goaway(): Promise<ReceivedFrame> {
    return this.waitFor((f) => f.type === FRAME.GOAWAY);
  }

  /** Resolves when the server closed the connection. */
  async untilClosed(): Promise<void> {
    while (!this.#closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}
