/**
 * `attemptTimeout`, one of the two waits a call bounds below its deadline, as Envoy's
 * per_try_timeout does: one attempt's wait for its response head (a hung attempt must not eat
 * the whole deadline when a second try would be answered). The other, `bodyTimeout`, bounds a
 * body read's wait for its next bytes (answer-body.ts).
 */
import { Failure } from '../../core/failure/failure.ts';

/** The abort reason of an attempt that `attemptTimeout` cut, told apart from the others by its class. */
export class AttemptTimedOut extends Error {}

/** What an attempt `attemptTimeout` cut met: the gateway's response timeout, the request sent. */
export function attemptTimeoutFailure(timeoutMs: number): Failure {
  const details = `no response head within the attemptTimeout of ${timeoutMs} ms`;
  return new Failure('http_response_timeout', details, { stage: 'sent' });
}

/**
 * What an attempt `attemptTimeout` cut before any of its request was written met: its connection
 * was still being made (the TCP connect or the TLS handshake hung), the gateway's connect timeout.
 * Nothing was sent: any method may go again.
 */
export function attemptConnectTimeoutFailure(timeoutMs: number): Failure {
  const details = `no connection within the attemptTimeout of ${timeoutMs} ms (the TCP connect or the TLS handshake did not finish)`;
  return new Failure('connection_timeout', details, { stage: 'not_sent' });
}
