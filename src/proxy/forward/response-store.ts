/**
 * What a route's cache asks of the forward step for one request (the session's cache run is
 * one): validators to send, a say over an upstream's answer before it is relayed, and a copy of
 * the body as it streams to the client. A route without a cache has none: one undefined check.
 */
export interface ResponseStore {
  /** Fields the request carries besides the client's: the stored answer's validators (If-None-Match, If-Modified-Since). */
  readonly validators: readonly string[];
  /**
   * The upstream's final head, before anything went downstream: the answer to give instead (a
   * stored answer in place of the upstream's 5xx, or the stored answer a 304 confirmed), run
   * once the attempt is over; undefined to relay the upstream's.
   */
  insteadOf(status: number, fields: readonly string[]): (() => void) | undefined;
  /**
   * The upstream's head went downstream (in HTTP `version`): where its body is copied to be
   * stored; undefined when it will not be.
   */
  keep(status: number, reason: string, fields: readonly string[], version: string): BodyCopy | undefined;
}

/** A bounded copy of a response body on its way to the client: stored only when it ends whole. */
export interface BodyCopy {
  add(chunk: Buffer): void;
  /** The upstream's framing said the body is whole. */
  end(): void;
}

/**
 * A copy of a body of at most `max` bytes: `over` is called once, with the whole body at its end,
 * or with undefined as soon as it goes past `max` (the copy is dropped; the client still gets
 * every byte): a body without Content-Length tells its size only as it comes, and what waits for
 * the copy (requests of the same key) need not wait for the end of one that will not be kept.
 */
export function boundedCopy(max: number, over: (body: Buffer | undefined) => void): BodyCopy {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    add: (chunk) => {
      if (size > max) return;
      size += chunk.length;
      if (size <= max) return void chunks.push(chunk);
      chunks.length = 0;
      over(undefined);
    },
    end: () => {
      if (size <= max) over(Buffer.concat(chunks, size));
    },
  };
}
