/**
 * A request body, sent again only when it can be: a body fetch reads from a copy each time
 * (a string, bytes, a Blob, URLSearchParams, FormData), or a function the caller passes to
 * make a fresh one per attempt (how a stream is marked replayable). A ReadableStream or an
 * async iterable passed as it is goes once: the first attempt consumes it.
 */

/** What fetch takes as a body (undici's BodyInit, which Node's globals do not name). */
export type RequestBody = NonNullable<RequestInit['body']>;

/** A body made afresh for each attempt: a function returning a new stream (or any body) each time. */
export type ReplayableBody = () => RequestBody | AsyncIterable<Uint8Array>;

interface BodySource {
  /** Whether a second attempt can send the same body. */
  readonly replayable: boolean;
  /** fetch needs `duplex: 'half'` to send a stream. */
  readonly streamed: boolean;
  /** The body for the next attempt. */
  take(): RequestBody | undefined;
}

function isStream(body: unknown): boolean {
  return (
    body instanceof ReadableStream ||
    (typeof body === 'object' &&
      body !== null &&
      typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' &&
      !(body instanceof Blob))
  );
}

export function bodySource(body: RequestBody | ReplayableBody | null | undefined): BodySource {
  if (typeof body === 'function') {
    return {
      replayable: true,
      streamed: true,
      take: () => {
        const fresh = body();
        if (typeof fresh === 'function' || fresh === null || fresh === undefined)
          throw new TypeError(
            'candor/client: a body function must return a body (a stream, bytes, a string…)',
          );
        // fetch would send a promise as the text "[object Promise]": an async body function
        // is refused before anything is sent, not turned into a wrong body.
        if (typeof (fresh as { then?: unknown }).then === 'function')
          throw new TypeError(
            'candor/client: a body function must return a body, not a promise of one (an async function): return the stream itself',
          );
        return fresh as RequestBody;
      },
    };
  }
  if (isStream(body)) {
    let taken = false;
    return {
      replayable: false,
      streamed: true,
      take: () => {
        if (taken) throw new TypeError('candor/client: a stream body cannot be sent twice');
        taken = true;
        return body as RequestBody;
      },
    };
  }
  return { replayable: true, streamed: false, take: () => body ?? undefined };
}
