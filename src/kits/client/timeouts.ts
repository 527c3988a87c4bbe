/**
 * The two waits a call bounds below its deadline, as Envoy's per_try_timeout and undici's
 * bodyTimeout do: `attemptTimeout`, one attempt's wait for its response head (a hung attempt
 * must not eat the whole deadline when a second try would be answered), and `bodyTimeout`, a
 * body read's wait for its next bytes once the head came (the deadline ends at the head, so a
 * body that stalls would hang the caller's read until the dispatcher's own limit, or forever).
 */
import { Failure } from '../../core/failure/failure.ts';
import type { AttemptReport } from './attempt-report.ts';
import { withBody } from './framing.ts';
import { UpstreamError } from './upstream-error.ts';

/** The abort reason of an attempt that `attemptTimeout` cut, told apart from the others by its class. */
export class AttemptTimedOut extends Error {}

/** What an attempt `attemptTimeout` cut met: the gateway's response timeout, the request sent. */
export function attemptTimeoutFailure(timeoutMs: number): Failure {
  const details = `no response head within the attemptTimeout of ${timeoutMs} ms`;
  return new Failure('http_response_timeout', details, { stage: 'sent' });
}

/** The call whose body a read waits for: its request, its failed attempts, the attempt that answered. */
export interface AnsweredCall {
  readonly method: string;
  readonly url: string;
  readonly attempts: readonly AttemptReport[];
  readonly made: number;
}

/** What a body read that stalled rejects with, `bytes` of the body read before it. */
function bodyTimeoutError(timeoutMs: number, bytes: number, call: AnsweredCall): UpstreamError {
  const cause = new Failure(
    'connection_read_timeout',
    `no body bytes within the bodyTimeout of ${timeoutMs} ms (after ${bytes} byte${bytes === 1 ? '' : 's'} of the body)`,
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
 * `answer` whose body reads each wait at most `timeoutMs` for the next bytes: past it the read
 * rejects with an UPSTREAM_BODY_TIMEOUT and fetch's body is cancelled, which destroys its
 * connection (one holding the unread rest of a body cannot serve another request). The timer runs
 * only while a read waits (highWaterMark 0: nothing is pulled ahead), so a caller that reads
 * late is never cut for its own slowness.
 */
export function withBodyTimeout(answer: Response, timeoutMs: number, call: AnsweredCall): Response {
  if (answer.body === null) return answer;
  const reader = answer.body.getReader();
  let bytes = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'stalled'>((resolve) => {
          timer = setTimeout(resolve, timeoutMs, 'stalled');
        });
        try {
          const next = await Promise.race([reader.read(), timedOut]);
          if (next === 'stalled') {
            const error = bodyTimeoutError(timeoutMs, bytes, call);
            controller.error(error);
            reader.cancel(error).catch(() => {});
          } else if (next.done) controller.close();
          else {
            bytes += next.value.byteLength;
            controller.enqueue(next.value);
          }
        } finally {
          clearTimeout(timer);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
  return withBody(answer, body);
}
