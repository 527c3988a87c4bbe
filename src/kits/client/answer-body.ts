/**
 * The body of the Response a call gave, read under the client's verdicts. The call ends at the
 * head, so what befalls the body afterwards would reach the caller as fetch's bare TypeError
 * "terminated", a fault no table names: here a body cut short (reset, closed before its
 * Content-Length or last chunk, or delimited by the connection's close and ended by a reset,
 * which fetch reads as whole) is `http_response_incomplete` and one whose chunk framing or
 * coding is not valid is garbage (a content coding that ends before its end among them, which
 * fetch reads as a short body: coding-check.ts), as the gateway's own connections call them; with
 * `bodyTimeout` a body that stalls is `connection_read_timeout`. Each rejects the read with an
 * UpstreamError that keeps its Failure, whose cause is fetch's error.
 */
import { codeOf, ms } from '../../core/failure/classify.ts';
import { classifyFetchError } from '../../core/failure/classify-fetch.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { FailureType } from '../../core/failure/taxonomy.ts';
import type { AttemptReport } from './attempt-report.ts';
import type { AttemptConnection, ConnectionEnd } from './connection-end.ts';
import { withBody } from './framing.ts';
import { UpstreamError } from './upstream-error.ts';

/** The call whose body a read waits for: its request, its failed attempts, the attempt that answered. */
export interface AnsweredCall {
  readonly method: string;
  readonly url: string;
  readonly attempts: readonly AttemptReport[];
  readonly made: number;
  /** The answer's `x-request-id` (a gateway's log line's id): the error of a body that broke names it. */
  readonly requestId?: string;
  /** When the attempt that answered was sent (performance.now()): a cut's "after … ms", as the gateway counts. */
  readonly sentAt: number;
  /** The caller's own signal: its abort is the caller's reason, never a failure of the upstream. */
  readonly callerSignal: AbortSignal | null | undefined;
  /** How the connection under the response ended, where fetch's undici told it (connection-end.ts). */
  readonly connection?: AttemptConnection;
  /**
   * Told once how the body ended: read whole, failed (cut, stalled, garbage), or left by the
   * caller (cancelled, or its abort): for the origin's circuit.
   */
  readonly bodyEnded?: (end: BodyEnd) => void;
}

export type BodyEnd = 'whole' | 'failed' | 'left';

/** How the body of the attempt that answered settles the origin's circuit, once the call knows it was a success. */
export interface BodyVerdict {
  settle?: (failed: boolean) => void;
}

const byteCount = (bytes: number) => `${bytes} byte${bytes === 1 ? '' : 's'}`;
const ofBody = (bytes: number) => `${byteCount(bytes)} of the body`;

/** What a body read that stalled rejects with, `bytes` of the body read before it. */
function bodyTimeoutError(timeoutMs: number, bytes: number, call: AnsweredCall): UpstreamError {
  const cause = new Failure(
    'connection_read_timeout',
    `no body bytes within the bodyTimeout of ${timeoutMs} ms (after ${ofBody(bytes)})`,
    { stage: 'head_received' },
  );
  return new UpstreamError('UPSTREAM_BODY_TIMEOUT', {
    ...call,
    type: cause.type,
    detail: cause.details,
    cause,
  });
}

/**
 * What a read of a body that broke (or that the fetch dispatcher's own bodyTimeout ended)
 * rejects with: the failure classified as the gateway's, whose cause is what the read met
 * (fetch's TypeError "terminated", its own cause undici's error). A cut says how the connection
 * ended, as the gateway's connections say it (connection-ended.ts): a clean close is the upstream
 * closing it before the body's end, never a connection "lost"; a reset is a reset. With how the
 * body's end counts for the origin: a close after every announced byte is fetch's cut, not its.
 */
function bodyBroke(
  err: unknown,
  bytes: number,
  call: AnsweredCall,
  answer: Response,
): [UpstreamError, BodyEnd] {
  const elapsed = performance.now() - call.sentAt;
  const found = classifyFetchError(err, elapsed, 'head_received');
  const how = found.type === 'http_response_incomplete' ? cutBy(err, call) : undefined;
  const read = bodyRead(bytes, answer, call.connection);
  // A body the upstream sent whole, that fetch itself cut, is no verdict on the upstream.
  const fetchCut = how === 'closed' && cameWhole(answer, call.connection);
  const details = fetchCut
    ? `response body cut short by fetch: every byte of its Content-Length came (${read}), then the connection closed while fetch (undici) was still decoding them, and it ended the body there (other side closed), after ${ms(elapsed)}`
    : how === 'closed'
      ? `response body cut short: the upstream closed the connection before the body's end (${read}) after ${ms(elapsed)}`
      : how === 'reset'
        ? `response body cut short: connection reset (ECONNRESET) before the body's end (${read}) after ${ms(elapsed)}`
        : `${found.details}, after ${ofBody(bytes)}`;
  const cause = new Failure(found.type, details, { stage: found.stage, cause: err });
  // The dispatcher's own bodyTimeout is a stall, as the client's.
  const code =
    cause.type === 'connection_read_timeout' ? 'UPSTREAM_BODY_TIMEOUT' : 'UPSTREAM_BODY_INCOMPLETE';
  const error = new UpstreamError(code, { ...call, type: cause.type, detail: cause.details, cause });
  return [error, fetchCut ? 'left' : 'failed'];
}

/**
 * How the connection that cut a body ended: as undici's channels told it (connection-end.ts),
 * else as fetch's error says it (undici's "other side closed" is a FIN on a kept-alive one).
 */
function cutBy(err: unknown, call: AnsweredCall): ConnectionEnd | undefined {
  if (call.connection?.end !== undefined) return call.connection.end;
  const cause = (err as { cause?: unknown } | null)?.cause;
  const code = codeOf(cause);
  if (code === 'ECONNRESET') return 'reset';
  if (code === 'UND_ERR_SOCKET' && (cause as Error).message === 'other side closed') return 'closed';
  return undefined;
}

/**
 * Whether every byte a body's Content-Length announced came on the wire (undici told them,
 * connection-end.ts): a cut then is fetch's, not the upstream's. undici's parser, held back by a
 * Content-Encoding decoder that is behind (a body that inflates a thousandfold), takes the
 * connection's FIN that follows the last byte for a body cut short.
 */
function cameWhole(answer: Response, connection: AttemptConnection | undefined): boolean {
  const length = answer.headers.get('content-length');
  return connection?.answering !== undefined && length !== null && Number(length) === connection.bodyBytes;
}

/**
 * The bytes of a cut body that came, against what its framing announced: as the connection gave
 * them where undici told them (connection-end.ts), else as read (`bytes`, after fetch undid any
 * Content-Encoding: not those the Content-Length counts).
 */
function bodyRead(bytes: number, answer: Response, connection: AttemptConnection | undefined): string {
  const length = answer.headers.get('content-length');
  const coded = answer.headers.has('content-encoding');
  const known = connection?.answering !== undefined;
  const came = connection?.answering !== undefined ? connection.bodyBytes : bytes;
  const decoded = coded && known ? `, ${bytes} decoded` : '';
  if (length === null)
    return /chunked/i.test(answer.headers.get('transfer-encoding') ?? '')
      ? `${byteCount(came)}, no last chunk${decoded}`
      : `${byteCount(came)}${decoded}`;
  return coded && !known
    ? `${bytes} bytes decoded, of a Content-Length of ${length}`
    : `${came} of ${length} bytes${decoded}`;
}

/**
 * What the read that found the end of a body whose content coding did not end whole rejects
 * with (coding-check.ts): the message came whole, its content did not. Garbage, as a body that
 * does not decode as its Content-Encoding says is to classify-fetch.ts: the same again if sent
 * again. But a body only the connection's close ends was cut by that close.
 */
function codingBrokeError(
  coding: string,
  err: Error & { code?: unknown },
  bytes: number,
  call: AnsweredCall,
  answer: Response,
): UpstreamError {
  const after = ms(performance.now() - call.sentAt);
  const cut = err.code === 'Z_BUF_ERROR';
  // Where only the close ends the body, a coding cut short is what a close before its end looks like.
  const [type, details]: [FailureType, string] =
    cut && closeDelimited(answer)
      ? [
          'http_response_incomplete',
          `response body cut short: its ${coding} coding ends before its end (${err.message}) where only the connection's close ends the body (no Content-Length, not chunked): the connection closed before it, after ${after}, ${bodyRead(bytes, answer, call.connection)}`,
        ]
      : cut
        ? [
            'http_protocol_error',
            `its body's ${coding} coding ends before its end (${err.message}): the message came whole, its content did not, after ${after}, ${bytes} bytes decoded`,
          ]
        : [
            'http_protocol_error',
            `its body does not decode as its Content-Encoding says (${String(err.code ?? err.message)}) after ${after}, ${bytes} bytes decoded`,
          ];
  const cause = new Failure(type, details, { stage: 'head_received', cause: err });
  return new UpstreamError('UPSTREAM_BODY_INCOMPLETE', {
    ...call,
    type: cause.type,
    detail: cause.details,
    cause,
  });
}

/**
 * What the read that found the end of a body delimited by the connection's close (RFC 9112 §6.3
 * item 8) rejects with when a reset, not a FIN, ended it: nothing tells a body cut short from a
 * whole one then, and fetch took the reset for the end.
 */
function closeDelimitedResetError(bytes: number, call: AnsweredCall): UpstreamError {
  const after = ms(performance.now() - call.sentAt);
  const cause = new Failure(
    'http_response_incomplete',
    `response body cut short: connection reset (ECONNRESET) where only the connection's close ends the body (no Content-Length, not chunked): it may be cut anywhere, after ${after}, after ${ofBody(bytes)}`,
    { stage: 'head_received' },
  );
  return new UpstreamError('UPSTREAM_BODY_INCOMPLETE', {
    ...call,
    type: cause.type,
    detail: cause.details,
    cause,
  });
}

/** A body the connection's close ends (neither Content-Length nor Transfer-Encoding). */
function closeDelimited(answer: Response): boolean {
  return !answer.headers.has('content-length') && !answer.headers.has('transfer-encoding');
}

/**
 * `answer` whose body reads reject with the client's verdicts. With `timeoutMs`, each read waits
 * at most that for the next bytes: past it the read rejects with an UPSTREAM_BODY_TIMEOUT and
 * fetch's body is cancelled, which destroys its connection (one holding the unread rest of a
 * body cannot serve another request). The timer runs only while a read waits (highWaterMark 0:
 * nothing is pulled ahead), so a caller that reads late is never cut for its own slowness.
 */
export function withAnswerBody(answer: Response, call: AnsweredCall, timeoutMs?: number): Response {
  if (answer.body === null) return answer;
  const reader = answer.body.getReader();
  let bytes = 0;
  let told = false;
  const ended = (end: BodyEnd) => {
    if (told) return;
    told = true;
    if (end !== 'whole') call.connection?.coding?.drop();
    call.bodyEnded?.(end);
  };
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, error: unknown, end: BodyEnd) => {
    controller.error(error);
    ended(end);
  };
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: NodeJS.Timeout | undefined;
        try {
          // Without a bodyTimeout a read is the read alone, no race against a wait that never ends.
          const next =
            timeoutMs === undefined
              ? await reader.read()
              : await Promise.race([
                  reader.read(),
                  new Promise<'stalled'>((resolve) => {
                    timer = setTimeout(resolve, timeoutMs, 'stalled');
                  }),
                ]);
          if (next === 'stalled') {
            const error = bodyTimeoutError(timeoutMs ?? 0, bytes, call);
            fail(controller, error, 'failed');
            reader.cancel(error).catch(() => {});
          } else if (next.done) {
            const coding = call.connection?.coding;
            const broken = await coding?.end();
            if (call.connection?.end === 'reset' && closeDelimited(answer))
              fail(controller, closeDelimitedResetError(bytes, call), 'failed');
            else if (coding !== undefined && broken !== undefined)
              fail(controller, codingBrokeError(coding.coding, broken, bytes, call, answer), 'failed');
            else {
              controller.close();
              ended('whole');
            }
          } else {
            bytes += next.value.byteLength;
            controller.enqueue(next.value);
          }
        } catch (err) {
          // The caller's abort is its own reason, as fetch's; anything else broke the body.
          if (call.callerSignal?.aborted) fail(controller, err, 'left');
          else {
            const [error, end] = bodyBroke(err, bytes, call, answer);
            fail(controller, error, end);
          }
        } finally {
          clearTimeout(timer);
        }
      },
      cancel: (reason) => {
        ended('left');
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return withBody(answer, body);
}
