import { randomFillSync, randomUUID } from 'node:crypto';

/** A request id from the client is kept when it is safe to echo into headers and logs. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:+/=@-]{1,200}$/;

/** Whether a request id that came with a request may be passed on as it is. */
export function isSafeRequestId(value: string): boolean {
  return SAFE_REQUEST_ID.test(value);
}

export function acceptOrCreateRequestId(fromClient: string | undefined): string {
  return fromClient !== undefined && isSafeRequestId(fromClient) ? fromClient : randomUUID();
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
