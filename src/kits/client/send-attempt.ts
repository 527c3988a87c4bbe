/**
 * One attempt of a createFetch call sent: its own signal (the caller's abort, the call's deadline
 * until its head came, `attemptTimeout`), its init made from the call's request, the redirects
 * fetch would follow, and its answer's framing read and body watched (answer-body.ts). Apart from
 * the call (call.ts), which admits each attempt, judges what it brought back and waits between
 * them: this is what one attempt does on the wire, the same for the first and the tenth.
 */
import { watchingFetch } from '../../core/net/fetch-watch.ts';
import { type BodyEnd, type BodyVerdict, withAnswerBody } from './answer-body.ts';
import type { AttemptReport } from './attempt-report.ts';
import type { CallRequest } from './call-request.ts';
import type { AttemptConnection } from './connection-end.ts';
import { readFraming } from './framing.ts';
import type { ClientConfig } from './options.ts';
import { type Hops, sendFollowing } from './redirects.ts';
import { AttemptTimedOut } from './timeouts.ts';

/** What an attempt reads of its call (call.ts's Call holds one, made once a call). */
export interface SendingCall {
  readonly config: ClientConfig;
  readonly request: CallRequest;
  readonly url: URL;
  /** The deadline's abort reason, told apart from the caller's by identity. */
  readonly deadline: Error;
  /** Aborts when the call's deadline passes (the caller's abort is the request's callerSignal). */
  readonly deadlineSignal: AbortSignal;
  /** The call's failed attempts so far (each retried), added to as it goes. */
  readonly reports: readonly AttemptReport[];
}

/**
 * Sends one attempt, following the redirects fetch would, and reads its framing as fetch would;
 * `attemptTimeout` bounds its wait for the head, `bodyTimeout` each read of the body that came,
 * and a body that breaks is told by its failure (answer-body.ts).
 */
export async function sendAttempt(
  sending: SendingCall,
  attempt: number,
  hops: Hops,
  verdict: BodyVerdict,
  connection: AttemptConnection,
): Promise<Response> {
  const { input, init, method, headers, body, callerSignal, follow, redirectable } = sending.request;
  // The deadline ends the wait for this attempt's head, not its body: a response the call
  // later gives up with (its deadline passing in a wait) must still be readable. The
  // caller's abort reaches the body too, as with fetch.
  const sentAt = performance.now();
  const headDeadline = new AbortController();
  const untilHead = () => headDeadline.abort(sending.deadline);
  sending.deadlineSignal.addEventListener('abort', untilHead, { once: true });
  const { attemptTimeout, bodyTimeout } = sending.config;
  const attemptTimer =
    attemptTimeout === undefined
      ? undefined
      : setTimeout(() => headDeadline.abort(new AttemptTimedOut()), attemptTimeout);
  const attemptSignal = callerSignal
    ? AbortSignal.any([callerSignal, headDeadline.signal])
    : headDeadline.signal;
  try {
    const attemptInit = { ...init, method, headers, signal: attemptSignal } as RequestInit & {
      duplex?: 'half';
    };
    if (init.body === undefined || init.body === null) delete attemptInit.body;
    else attemptInit.body = body.take();
    if (body.streamed) attemptInit.duplex = 'half';
    const send = sending.config.fetch ?? globalThis.fetch;
    const target = input instanceof Request ? input.clone() : sending.url;
    if (follow) attemptInit.redirect = 'manual';
    const answer = await watchingFetch(connection, () =>
      follow ? sendFollowing(send, target, attemptInit, redirectable, hops) : send(target, attemptInit),
    );
    const framed = readFraming(answer, method, connection.version);
    if (framed instanceof TypeError) throw framed;
    // The failed attempts before this one (each retried), for the error of a body that breaks.
    const call = {
      method,
      url: sending.request.href,
      attempts: [...sending.reports],
      made: attempt,
      requestId: framed.headers.get('x-request-id') ?? undefined,
      sentAt,
      callerSignal,
      connection,
      // A caller's cancel or abort is no verdict on the origin.
      bodyEnded: (end: BodyEnd) => {
        if (end !== 'left') verdict.settle?.(end === 'failed');
      },
    };
    return withAnswerBody(framed, call, bodyTimeout);
  } finally {
    clearTimeout(attemptTimer);
    sending.deadlineSignal.removeEventListener('abort', untilHead);
  }
}
