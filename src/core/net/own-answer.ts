import type { Readable } from 'node:stream';

/**
 * An answer the gateway makes itself, without an upstream (a redirect, a CORS preflight,
 * `OPTIONS *`, an ACME validation): its status, the fields it needs and its body; the session
 * adds Content-Length, the request id and the route's response rules, and logs it as the
 * gateway's own.
 */
export class OwnAnswer {
  readonly status: number;
  /** [name, value, …] */
  readonly headers: readonly string[];
  /**
   * None for a 205, whatever its maker gave (RFC 9110 §15.3.6: a 205 has no content): its head
   * then says `Content-Length: 0`, and the client reads the next answer where it begins. (A 204
   * and a 304 are framed bodiless by the sink: what they are given is never sent.)
   */
  readonly body: Buffer;

  constructor(status: number, headers: readonly string[], body: Buffer = EMPTY) {
    this.status = status;
    this.headers = headers;
    this.body = status === 205 ? EMPTY : body;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * An answer that refuses what the request asked without anything having failed (a static file's
 * 412 and 416): no cache may keep it (`Cache-Control: no-store`), and the route's rules do not
 * make it one a cache keeps: its fields of storage (storage-fields.ts) stay its own, as a
 * failure's do. A rule's `Cache-Control: …, immutable` for the route's files made the 416 of one
 * client's `Range: bytes=99999-` one a shared cache in front kept for a year under the file's URL.
 */
export class RefusalAnswer extends OwnAnswer {}

/**
 * An answer of the gateway's own whose body streams (a static file): `length` bytes read from
 * `body` as the client takes them, with backpressure, never held whole. A body that ends short,
 * or fails, cuts the transfer (never finished as whole: `http_response_incomplete`). Undefined
 * body: none is sent (a HEAD's answer, a 304), its head telling `length` all the same.
 * `done` is asked before the last bytes go: false (the file changed under the read) cuts them.
 */
export class StreamedAnswer extends OwnAnswer {
  readonly length: number;
  readonly stream: Readable | undefined;
  readonly done: (() => Promise<boolean>) | undefined;

  constructor(
    status: number,
    headers: readonly string[],
    length: number,
    stream: Readable | undefined,
    done?: () => Promise<boolean>,
  ) {
    super(status, headers);
    this.length = length;
    this.stream = stream;
    this.done = done;
  }
}

/**
 * An edit of an answer's fields ([name, value, …]), returning a new list: the route's response
 * rules, its CORS fields. `failed`: the answer is the gateway's error response for a failure, made
 * by the gateway alone (not the upstream's, nor one a stage based on what it stored).
 */
export type AnswerEdit = (headers: readonly string[], failed?: boolean) => string[];
