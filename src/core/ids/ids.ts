import { randomFillSync } from 'node:crypto';

/** A request id from the client is kept when it is safe to echo into headers and logs. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:+/=@-]{1,200}$/;

/** Whether a request id that came with a request may be passed on as it is. */
export function isSafeRequestId(value: string): boolean {
  return SAFE_REQUEST_ID.test(value);
}

/** A request's id, and the one its client sent when that one was not adopted. */
export interface RequestIds {
  readonly id: string;
  /** The client's X-Request-Id, kept for the log only (safe to write, not from a trusted proxy). */
  readonly clientId: string | undefined;
}

/**
 * The id a request is known by in headers, logs and error pages. A trusted proxy's
 * (`trust_forwarded_from`) is adopted, so the id stays one across the hops; anyone else's
 * could name another request (the id the error page asks people to quote would then be
 * forged), so a new one is made and the client's is only logged beside it.
 */
export function requestIdsFor(fromClient: string | undefined, trusted: boolean): RequestIds {
  const safe = fromClient !== undefined && isSafeRequestId(fromClient) ? fromClient : undefined;
  if (safe !== undefined && trusted) return { id: safe, clientId: undefined };
  return { id: newRequestId(), clientId: safe };
}

// Request, trace and span ids come from a pooled random buffer: one getrandom() per 4 KiB of
// ids (some 100 requests' worth), not one per request.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** The pool's next `bytes` random bytes: where they start in it. */
function take(bytes: number): number {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/**
 * Where an id is written, digit by digit, before it becomes one string: node's randomUUID()
 * builds its string from some twenty pieces (a string each, on every request); this makes one.
 */
const text = Buffer.allocUnsafe(64);

/** Writes `bytes` random bytes from `at` in the pool as hex into `text` from `to`; returns the next free index. */
function putHex(at: number, bytes: number, to: number): number {
  let n = to;
  for (let i = at; i < at + bytes; i++) {
    const b = pool[i];
    text[n++] = HEX_DIGITS[b >> 4];
    text[n++] = HEX_DIGITS[b & 15];
  }
  return n;
}

/** A random (version 4) UUID, lower-case, as RFC 9562 §5.4 lays it out: the id of a request the gateway names. */
export function newRequestId(): string {
  const at = take(16);
  pool[at + 6] = (pool[at + 6] & 0x0f) | 0x40; // version 4
  pool[at + 8] = (pool[at + 8] & 0x3f) | 0x80; // variant 10
  let n = putHex(at, 4, 0);
  text[n++] = 0x2d; // '-'
  n = putHex(at + 4, 2, n);
  text[n++] = 0x2d;
  n = putHex(at + 6, 2, n);
  text[n++] = 0x2d;
  n = putHex(at + 8, 2, n);
  text[n++] = 0x2d;
  n = putHex(at + 10, 6, n);
  return text.toString('latin1', 0, n);
}

/**
 * A new trace's `traceparent` (W3C Trace Context: version 00, a random trace id and span id,
 * sampled), made as one string: its ids are read off it (traceparent.ts).
 */
export function newTraceparent(): string {
  text[0] = 0x30; // '0'
  text[1] = 0x30;
  text[2] = 0x2d;
  let n = putHex(take(16), 16, 3);
  text[n++] = 0x2d;
  n = putHex(take(8), 8, n);
  text[n++] = 0x2d;
  text[n++] = 0x30;
  text[n++] = 0x31; // '01': sampled
  return text.toString('latin1', 0, n);
}

export function randomHex(bytes: number): string {
  const at = take(bytes);
  return pool.toString('hex', at, at + bytes);
}
