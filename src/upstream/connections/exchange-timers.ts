/**
 * The two clocks of an exchange on its connection, alike for both protocols: the head clock
 * (`timeouts.response`, from the request going out to the response head) and the read clock
 * (`timeouts.read`, the longest silence inside the response body).
 *
 * Timers run before I/O in each turn of the event loop: after a stall of the gateway's own (a
 * long GC, a burst of work), an answer already waiting in the socket would lose to its timer.
 * So a connection whose timer fires looks again after the poll (setImmediate) before it calls
 * either of these, and a response that made progress meanwhile is not blamed for the lag.
 */
import { ms } from '../../core/failure/classify.ts';
import { Failure } from '../../core/failure/failure.ts';

/**
 * No response head within the head clock; `waiting`: what of the request the upstream had not
 * taken (ExchangeController.requestWaiting); `interim`: the interim (1xx) heads that came
 * meanwhile, which the details count (an upstream that sent 102s did send something);
 * `partial`: the bytes of a head begun and never ended (a trickling or stuck upstream is not
 * a silent one: the fix differs).
 */
export function headTimedOut(
  startedAt: number,
  waiting: string | undefined,
  interim = 0,
  partial = 0,
): Failure {
  const after = ms(performance.now() - startedAt);
  let details: string;
  if (interim === 0)
    details =
      partial === 0
        ? `no response head after ${after}`
        : `response head incomplete after ${after} (${partial} bytes of it came)`;
  else {
    const answers = `${interim} interim (1xx) ${interim === 1 ? 'answer' : 'answers'}`;
    const rest = partial === 0 ? '' : ` and ${partial} bytes of the final one`;
    details = `no final response head after ${after}, only ${answers}${rest}`;
  }
  return new Failure('http_response_timeout', waiting === undefined ? details : `${details}; ${waiting}`);
}

/** The response body went silent for the read clock; `why`: what more is known of the silence. */
export function bodyStalled(readTimeout: number, startedAt: number, why?: string): Failure {
  const details = `response body stalled (read timeout of ${readTimeout} ms) after ${ms(performance.now() - startedAt)}`;
  return new Failure('connection_read_timeout', why === undefined ? details : `${details}; ${why}`);
}
