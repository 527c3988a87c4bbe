/**
 * The clocks of an exchange on its connection, alike for both protocols: the head clock
 * (`timeouts.response`, from the request going out to the response head), the read clock
 * (`timeouts.read`, the longest silence inside the response body) and the send clock
 * (`timeouts.send`, the longest the upstream takes none of a request body waiting for it:
 * body-pump.ts).
 *
 * Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
 * long GC, a burst of work), an answer already waiting in the socket would lose to its timer.
 * So a connection whose timer fires looks again after the poll (setImmediate) before it calls
 * either of these, and a response that made progress meanwhile is not blamed for the lag.
 */
import { ms } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';
import type { ConnectionTimeouts, HeadSoFar } from './exchange-contract.ts';

/**
 * No response head within the head clock (`timeouts`: which setting it is, and its value, named as
 * the read and send clocks name theirs); `waiting`: what of the request the upstream had not taken
 * (ExchangeController.requestWaiting); `so`: what of the head came meanwhile.
 */
export function headTimedOut(
  startedAt: number,
  timeouts: ConnectionTimeouts,
  waiting: string | undefined,
  so: HeadSoFar,
): Failure {
  const when = `(${timeouts.headName} of ${timeouts.head} ms) after ${ms(performance.now() - startedAt)}`;
  const details = noHeadDetails(when, so);
  return new Failure('http_response_timeout', waiting === undefined ? details : `${details}; ${waiting}`);
}

/**
 * No whole response head `when` ("(response timeout of 300 ms) after 301 ms", "within the total
 * timeout of 600 ms"), with what of it came: interim (1xx) answers, the bytes of a head begun. A
 * trickling or 1xx-sending upstream is not a silent one, and the fix differs.
 */
export function noHeadDetails(when: string, so: HeadSoFar | undefined): string {
  const interim = so?.interim ?? 0;
  const partial = so?.partial ?? 0;
  if (interim === 0)
    return partial === 0
      ? `no response head ${when}`
      : `response head incomplete ${when} (${partial} bytes of it came)`;
  const answers = `${interim} interim (1xx) ${interim === 1 ? 'answer' : 'answers'}`;
  const rest = partial === 0 ? '' : ` and ${partial} bytes of the final one`;
  return `no final response head ${when}, only ${answers}${rest}`;
}

/** The response body went silent for the read clock; `why`: what more is known of the silence. */
export function bodyStalled(readTimeout: number, startedAt: number, why?: string): Failure {
  const details = `response body stalled (read timeout of ${readTimeout} ms) after ${ms(performance.now() - startedAt)}`;
  return new Failure('connection_read_timeout', why === undefined ? details : `${details}; ${why}`);
}

/**
 * The upstream took none of the request body waiting for it within the send clock (body-pump.ts):
 * `given` body bytes handed on since the body began, `waiting` of them not taken yet, and why.
 */
export function sendStalled(
  sendTimeout: number,
  blockedAt: number,
  given: number,
  waiting: { readonly bytes: number; readonly why: string },
): Failure {
  const sent = Math.max(0, given - waiting.bytes);
  return new Failure(
    'connection_write_timeout',
    `request body stalled (send timeout of ${sendTimeout} ms): the upstream took none of it for ${ms(performance.now() - blockedAt)} (${sent} bytes sent, ${waiting.bytes} waiting: ${waiting.why})`,
    { stage: 'sent' },
  );
}
