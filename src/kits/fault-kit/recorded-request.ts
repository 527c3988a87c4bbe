/**
 * One request as a fault-kit server saw it: its head, its body as it arrives (bounded), and the
 * bytes it came in as.
 */
import { createHash } from 'node:crypto';

/** One request as the server saw it, filled in as its body arrives. */
export interface ReceivedRequest {
  /** 1-based, in arrival order across the whole server. */
  readonly index: number;
  /** 1-based number of the TCP connection it came on (see `Fault.connectionLog`). */
  readonly connection: number;
  readonly method: string;
  /** The request-target exactly as sent ("/a?b=1", or "host:443" for CONNECT). */
  readonly path: string;
  /** "1.1" or "1.0". */
  readonly httpVersion: string;
  /** Header field lines in order, names as sent. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  /** Lower-cased names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** Trailer field lines of a chunked request body, in order. */
  readonly trailers: ReadonlyArray<readonly [string, string]>;
  /** The body bytes received so far, de-chunked (capped at 16 MiB; `bodyLength` keeps counting). */
  readonly body: Buffer;
  readonly bodyLength: number;
  /** sha256 (hex) of the whole body, once `bodyComplete`. */
  readonly bodySha256: string | undefined;
  /** Whether the body framing said the body is over (true at once for a request without a body). */
  readonly bodyComplete: boolean;
  /**
   * The bytes of this request as they arrived (head and framed body, capped at 16 MiB). Exact for
   * the raw-TCP faults; rebuilt from the parsed message by the node:http based servers.
   */
  readonly raw: Buffer;
  /** `performance.now()` when the head was complete. */
  readonly receivedAt: number;
}

const MAX_RECORDED = 16 * 1024 * 1024;

/** A request record the servers fill in; tests see it as a read-only ReceivedRequest. */
export class RecordedRequest implements ReceivedRequest {
  readonly index: number;
  readonly connection: number;
  readonly method: string;
  readonly path: string;
  readonly httpVersion: string;
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  readonly headers: Readonly<Record<string, string>>;
  readonly trailers: Array<readonly [string, string]> = [];
  readonly receivedAt = performance.now();
  bodyLength = 0;
  bodySha256: string | undefined;
  bodyComplete = false;
  #bodyChunks: Buffer[] = [];
  #rawChunks: Buffer[] = [];
  #rawLength = 0;
  #hash = createHash('sha256');
  #onChange: () => void;

  constructor(
    init: {
      index: number;
      connection: number;
      method: string;
      path: string;
      httpVersion: string;
      rawHeaders: Array<readonly [string, string]>;
    },
    onChange: () => void,
  ) {
    this.index = init.index;
    this.connection = init.connection;
    this.method = init.method;
    this.path = init.path;
    this.httpVersion = init.httpVersion;
    this.rawHeaders = init.rawHeaders;
    this.headers = headerMap(init.rawHeaders);
    this.#onChange = onChange;
  }

  get body(): Buffer {
    if (this.#bodyChunks.length > 1) this.#bodyChunks = [Buffer.concat(this.#bodyChunks)];
    return this.#bodyChunks[0] ?? Buffer.alloc(0);
  }

  get raw(): Buffer {
    if (this.#rawChunks.length > 1) this.#rawChunks = [Buffer.concat(this.#rawChunks)];
    return this.#rawChunks[0] ?? Buffer.alloc(0);
  }

  addRaw(bytes: Buffer): void {
    if (this.#rawLength >= MAX_RECORDED) return;
    const kept = bytes.subarray(0, MAX_RECORDED - this.#rawLength);
    this.#rawChunks.push(kept);
    this.#rawLength += kept.length;
  }

  addBody(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#hash.update(bytes);
    if (this.bodyLength < MAX_RECORDED)
      this.#bodyChunks.push(bytes.subarray(0, MAX_RECORDED - this.bodyLength));
    this.bodyLength += bytes.length;
    this.#onChange();
  }

  complete(): void {
    if (this.bodyComplete) return;
    this.bodyComplete = true;
    this.bodySha256 = this.#hash.digest('hex');
    this.#onChange();
  }

  toJSON(): object {
    const { index, connection, method, path, httpVersion, rawHeaders, headers, trailers } = this;
    return {
      index,
      connection,
      method,
      path,
      httpVersion,
      rawHeaders,
      headers,
      trailers,
      bodyLength: this.bodyLength,
      bodySha256: this.bodySha256,
      bodyComplete: this.bodyComplete,
    };
  }
}

function headerMap(rawHeaders: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const map: Record<string, string> = Object.create(null);
  for (const [name, value] of rawHeaders) {
    const key = name.toLowerCase();
    map[key] = key in map ? `${map[key]}, ${value}` : value;
  }
  return map;
}

/** Pairs Node's flat `rawHeaders` array. */
export function pairHeaders(flat: readonly string[]): Array<readonly [string, string]> {
  const pairs: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
  return pairs;
}
