import type { ClientHttp2Stream } from 'node:http2';
import { codeOf, ms } from '../../../core/failure/classify.ts';
import { Failure } from '../../../core/failure/failure.ts';
import { h2HeaderListSize } from './h2-headers.ts';

/**
 * The words an HTTP/2 call's failures carry (h2-call.ts): what held the request body back, why
 * no head came, how large the request head was. Read only when a call fails, never per request.
 */

const NO_PREFACE =
  'the upstream never sent its HTTP/2 preface (SETTINGS): no HTTP/2 server answered on that connection';

/**
 * Body bytes node:http2 still holds for the stream, and what keeps them (bodyKept), as the
 * failures that name them say it.
 */
export function bodyWaiting(stream: ClientHttp2Stream | undefined): string | undefined {
  const { bytes, why } = bodyKept(stream);
  if (bytes === 0) return undefined;
  return `${bytes} bytes of the request body were still waiting for the upstream to take them (${why})`;
}

/**
 * Body bytes node:http2 still holds for the stream, and what keeps them: the connection's
 * flow-control window, the socket, or else (node:http2 does not show a stream's own window)
 * the stream's window.
 */
export function bodyKept(stream: ClientHttp2Stream | undefined): { bytes: number; why: string } {
  const bytes = stream === undefined || stream.destroyed ? 0 : stream.writableLength;
  const session = stream?.session;
  const why =
    session?.state.remoteWindowSize === 0
      ? "its connection's HTTP/2 flow-control window stayed shut"
      : (session?.socket?.writableLength ?? 0) > 0
        ? 'the connection to it took no more'
        : 'its HTTP/2 flow-control window stayed shut';
  return { bytes, why };
}

/**
 * Why no head came in time: the request body still waiting, and a target that accepts and never
 * speaks HTTP/2 (an HTTP/1.1 server waiting for a request line), which reads as a slow handler
 * unless the missing preface is named.
 */
export function noHeadReason(waiting: string | undefined, prefaceCame: boolean): string | undefined {
  const unheard = prefaceCame ? undefined : NO_PREFACE;
  return unheard === undefined || waiting === undefined ? (waiting ?? unheard) : `${waiting}; ${unheard}`;
}

/** The request head as sent, sized as HTTP/2 counts a header list, beside the upstream's announced limit, and its count of fields. */
export function sentHeadSize(
  stream: ClientHttp2Stream,
  limit: number,
): { size: number; limit: number; fields: number } {
  const sent = Object.entries(stream.sentHeaders ?? {}).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).flatMap((one) => [name, String(one)]),
  );
  return { size: h2HeaderListSize(sent), limit, fields: sent.length / 2 };
}

/**
 * The failure of the requests that waited on a connection that ended, or was given up (`timedOut`:
 * its first stream had no head within the response timeout), before its upstream's SETTINGS:
 * none of theirs went out (`not_sent`, another target may take them), and a connection of their
 * own to the same upstream would have met the same silence, one after another.
 */
export function unheardFailure(error: unknown, elapsed: number, timedOut: boolean): Failure {
  const never = { stage: 'not_sent' as const, cause: error, unprocessed: true };
  const after = `after ${ms(elapsed)}`;
  if (timedOut)
    return new Failure(
      'http_response_timeout',
      `no response head: the connection this request waited for had no HTTP/2 preface (SETTINGS) from the upstream ${after}, and was given up: no HTTP/2 server answered on that connection`,
      never,
    );
  if (codeOf(error) === 'ERR_HTTP2_ERROR')
    return new Failure(
      'http_protocol_error',
      `the upstream's answer on the connection this request waited for is not valid HTTP/2 (${(error as Error).message}) ${after}, and came before any HTTP/2 preface (SETTINGS)`,
      never,
    );
  return new Failure(
    'connection_terminated',
    `the connection this request waited for closed ${after}, before the upstream sent its HTTP/2 preface (SETTINGS)`,
    never,
  );
}
