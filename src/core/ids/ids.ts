import { randomFillSync, randomUUID } from 'node:crypto';

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
  return { id: randomUUID(), clientId: safe };
}

// Trace and span ids come from a pooled random buffer: one getrandom() per 512 ids, not per request.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

export function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
