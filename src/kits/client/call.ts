/**
 * One call of a createFetch client: one signal for the caller's abort and the deadline over
 * all its attempts, and the loop of attempts: admit (wait
 * for the origin's pause, its circuit), send, judge what came back, wait, again.
 *
 * What a call ends with: the last Response whenever an HTTP response came; an UpstreamError
 * only when there is no response to give; the caller's own abort reason when its signal aborts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Failure } from '../../core/failure/failure.ts';
import { readProxyStatus, typeAnswered } from '../../core/failure/proxy-status.ts';
import { afterRetryAfter } from '../../core/retry/backoff.ts';
import type { NoRetryReason } from '../../core/retry/reasons.ts';
import { retryAfterMs } from '../../core/retry/retry-after.ts';
import type { BodyVerdict } from './answer-body.ts';
import { type AttemptReport, attemptReport } from './attempt-report.ts';
import { type CallRequest, type ClientRequestInit, readCallRequest } from './call-request.ts';
import { AttemptConnection } from './connection-end.ts';
import { type CallLimits, nextAttempt } from './next-attempt.ts';
import type { ClientConfig } from './options.ts';
import type { Admission, OriginState } from './origin-state.ts';
import { type Hops, refusedRedirect } from './redirects.ts';
import { classifyFetchError, isFailedStatus, stageOf } from './retry-rules.ts';
import { type SendingCall, sendAttempt } from './send-attempt.ts';
import { shownUrl, withoutCredentials } from './shown-url.ts';
import { AttemptTimedOut, attemptConnectTimeoutFailure, attemptTimeoutFailure } from './timeouts.ts';
import { UpstreamError, type UpstreamErrorCode } from './upstream-error.ts';

/** Calls `url` through `origin`'s state, retrying what the failure table and the limits allow. */
export async function call(
  config: ClientConfig,
  origin: OriginState,
  url: URL,
  input: string | URL | Request,
  init: ClientRequestInit,
): Promise<Response> {
  const request = readCallRequest(config, url, input, init);
  request.callerSignal?.throwIfAborted();
  return new Call(config, origin, url, request).run();
}

/** The deadline's abort reason, told apart from the caller's by identity. */
class DeadlineReached extends Error {}

/** `stoppedBy`: why a retry the last attempt's report announced was not made after all. */
type Extra = { detail?: string; retryAfterMs?: number; stoppedBy?: NoRetryReason };

/** One call's state from its first attempt to its end. */
class Call {
  readonly #config: ClientConfig;
  readonly #origin: OriginState;
  readonly #url: URL;
  readonly #request: CallRequest;
  readonly #deadline: DeadlineReached;
  readonly #deadlineController = new AbortController();
  readonly #timer: NodeJS.Timeout;
  /** The caller's abort and the deadline: ends every attempt and every wait at once. */
  readonly #signal: AbortSignal;
  readonly #deadlineAt: number;
  readonly #limits: CallLimits;
  readonly #reports: AttemptReport[] = [];
  /** The last failed attempt: its response (held until the next attempt goes), or its connection failure. */
  #lastAnswer: Response | undefined;
  #lastFailure: Failure | undefined;
  /** What each attempt reads of the call (send-attempt.ts). */
  readonly #sending: SendingCall;

  constructor(config: ClientConfig, origin: OriginState, url: URL, request: CallRequest) {
    this.#config = config;
    this.#origin = origin;
    this.#url = url;
    this.#request = request;
    // One signal for the whole call. (AbortSignal.any holds the caller's signal weakly: a
    // long-lived one shared by many calls collects no listeners.)
    this.#deadline = new DeadlineReached(`deadline of ${config.deadline} ms passed`);
    this.#timer = setTimeout(() => this.#deadlineController.abort(this.#deadline), config.deadline);
    this.#signal = request.callerSignal
      ? AbortSignal.any([request.callerSignal, this.#deadlineController.signal])
      : this.#deadlineController.signal;
    this.#deadlineAt = performance.now() + config.deadline;
    this.#limits = { config, origin, facts: request.facts, deadlineAt: this.#deadlineAt };
    this.#sending = {
      config,
      request,
      url,
      deadline: this.#deadline,
      deadlineSignal: this.#deadlineController.signal,
      reports: this.#reports,
    };
  }

  async run(): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let admission: Admission;
      try {
        admission = await this.#origin.admit(this.#url.pathname, this.#deadlineAt, this.#signal);
      } catch {
        return this.#aborted();
      }
      if (admission.kind !== 'go') return this.#refused(admission);
      // The failed answer kept for a giving-up is not needed any more: let its connection go.
      // Not awaited: nothing may come between the admission and the send (a pause could begin).
      this.#lastAnswer?.body?.cancel().catch(() => {});
      this.#lastAnswer = undefined;
      if (attempt === 1) this.#origin.budget?.called(performance.now());
      const ended = await this.#attempt(attempt, admission);
      if (ended !== undefined) return ended;
    }
  }

  /** An admission the origin's state refused: its circuit is open, or its pause outlasts the deadline. */
  #refused(admission: Exclude<Admission, { kind: 'go' }>): Response {
    const origin = this.#url.origin;
    if (admission.kind === 'circuit_open') {
      return this.#giveUp('UPSTREAM_CIRCUIT_OPEN', {
        detail: `circuit open for ${origin}${admission.hop === undefined ? '' : ` (its upstream "${admission.hop}")`}, next probe in ${Math.ceil(admission.retryAfterMs)} ms`,
        retryAfterMs: admission.retryAfterMs,
        stoppedBy: 'circuit_open',
      });
    }
    return this.#giveUp('UPSTREAM_DEADLINE', {
      detail:
        admission.hop === undefined
          ? `${origin} asked for a pause (Retry-After) that ends after this call's deadline`
          : `${origin} asked for a pause (Retry-After) of its upstream "${admission.hop}" that ends after this call's deadline`,
      retryAfterMs: admission.until - performance.now(),
      stoppedBy: 'retry_after_past_deadline',
    });
  }

  /** One admitted attempt: the response that ends the call, or undefined to try again (after waiting). */
  async #attempt(attempt: number, admission: Admission & { kind: 'go' }): Promise<Response | undefined> {
    const attemptStart = performance.now();
    const hops: Hops = { count: 0, url: this.#url };
    const body: BodyVerdict = {};
    const connection = new AttemptConnection();
    let answer: Response;
    try {
      answer = await sendAttempt(this.#sending, attempt, hops, body, connection);
    } catch (err) {
      return this.#noAnswer(err, attempt, admission, hops, performance.now() - attemptStart, connection);
    }
    if (!isFailedStatus(answer.status)) {
      // Its body may still break: the origin's success waits for it (origin-state.ts). A body
      // from another origin a redirect led to is that origin's.
      const bodyToCome =
        answer.body !== null &&
        answer.headers.get('content-length') !== '0' &&
        hops.url.origin === this.#url.origin;
      this.#origin.settle(admission, { bodyToCome });
      if (bodyToCome) body.settle = (failed) => this.#origin.settleBody(admission, failed);
      clearTimeout(this.#timer);
      return answer;
    }
    return this.#failedAnswer(answer, attempt, admission, hops, performance.now() - attemptStart);
  }

  /** An attempt that got no response: the call's end, or undefined once the wait before the next is over. */
  async #noAnswer(
    err: unknown,
    attempt: number,
    admission: Admission & { kind: 'go' },
    hops: Hops,
    elapsedMs: number,
    connection: AttemptConnection,
  ): Promise<Response | undefined> {
    const { method, href } = this.#request;
    const url = this.#url;
    const signal = this.#signal;
    if (signal.aborted) {
      // An attempt that waited at least half the call's deadline and was cut hung: a failure
      // for the circuit (a hung origin must open it too). One cut after a short wait, the end of
      // a call that spent its time elsewhere, says nothing about the origin.
      const hung =
        signal.reason === this.#deadline &&
        elapsedMs >= this.#config.deadline / 2 &&
        hops.url.origin === url.origin;
      this.#origin.settle(admission, hung ? { failed: true } : { abandoned: true });
      if (signal.reason === this.#deadline) {
        // This attempt met no failure the table names: an earlier one's is not why the call ended.
        this.#lastFailure = undefined;
        const detail = `no response within the deadline of ${this.#config.deadline} ms`;
        this.#report(attemptReport(attempt, method, href, { elapsedMs, detail }, undefined, 'deadline'));
        return this.#fail('UPSTREAM_DEADLINE', { detail });
      }
      return this.#fail('UPSTREAM_UNREACHABLE');
    }
    // fetch's network errors carry their cause; any other rejection is the call's own mistake
    // (a GET with a body, a bad header), which fetch would have thrown as well. So is a
    // redirect fetch would not follow: the origin answered, and the same request would meet
    // the same redirect (a loop sent again would triple its load); and a bad port, never tried.
    const cut = err instanceof AttemptTimedOut;
    if (!cut && (!(err instanceof Error) || err.cause === undefined || refusedRedirect(err))) {
      this.#origin.settle(admission, { abandoned: true });
      clearTimeout(this.#timer);
      throw withoutCredentials(err, url);
    }
    // Cut before undici wrote any request of it (and undici tells, connection-end.ts): the
    // connection was still being made, nothing was sent.
    const connecting = cut && connection.seen && !connection.written;
    let failure = !cut
      ? classifyFetchError(err, elapsedMs)
      : connecting
        ? attemptConnectTimeoutFailure(this.#config.attemptTimeout ?? 0)
        : attemptTimeoutFailure(this.#config.attemptTimeout ?? 0);
    // A server answered with a redirect: the request reached it, whatever the next hop met.
    if (hops.count > 0 && failure.stage === 'not_sent') failure = failure.at('sent');
    this.#lastFailure = failure;
    // The process's own want (no file descriptor or local port for the connection:
    // proxy_resources_exhausted) says nothing of the origin: no verdict, or its circuit opened
    // and, descriptors back, refused every call for `openTime`.
    const own = failure.shape === 'gateway';
    this.#origin.settle(
      admission,
      hops.url.origin === url.origin && !own ? { failed: true } : { abandoned: true },
    );
    const { type, stage } = failure;
    const details =
      hops.count === 0
        ? failure.details
        : `${failure.details}, at ${shownUrl(hops.url)} after ${hops.count} redirect${hops.count === 1 ? '' : 's'}`;
    const next = nextAttempt(this.#limits, attempt, { status: undefined, type, stage }, undefined);
    this.#report(
      attemptReport(attempt, method, href, { elapsedMs, type, detail: details }, next.delayMs, next.reason),
    );
    if (!next.retry) return this.#fail('UPSTREAM_UNREACHABLE');
    if (!(await wait(next.delayMs, signal))) return this.#aborted();
    return undefined;
  }

  /**
   * An attempt answered with a failed status (a 502, 503, 504, 429…): the origin's state learns
   * from it; the call ends with it, or undefined once the wait before the next attempt is over.
   */
  async #failedAnswer(
    answer: Response,
    attempt: number,
    admission: Admission & { kind: 'go' },
    hops: Hops,
    elapsedMs: number,
  ): Promise<Response | undefined> {
    const { method, href } = this.#request;
    const url = this.#url;
    // The gateway this client talks to wrote the last member; an inner one's error is not how
    // far this request got (its `received-status` says the request was delivered).
    const member = readProxyStatus(answer.headers.get('proxy-status') ?? undefined);
    const type = typeAnswered(member?.error, answer.status);
    const announced = retryAfterMs(answer.headers.get('retry-after'));
    // The wait it asks for: a little after the announced time, never before it, so that the
    // processes of a fleet told the same do not all come back at one instant. One draw for the
    // call's wait and the pause it sets, so that the call is the pause's probe when it ends.
    const draw = Math.random();
    const after = (ms: number) => afterRetryAfter(ms, this.#config.backoff.cap, () => draw);
    const waitMs = announced === undefined ? undefined : after(announced);
    // Another origin a redirect led to speaks for itself: its failure, its pause are not this
    // origin's (this call still waits its Retry-After, as a delay).
    const own = hops.url.origin === url.origin;
    // A Retry-After of 0 (or a date past) asks for no pause: nobody need wait behind a probe.
    const pauses =
      own && announced !== undefined && announced > 0 && (answer.status === 503 || answer.status === 429);
    // A gateway that names the upstream it answered for speaks for that upstream: its failure
    // and its pause hold the paths that go there, not the gateway's other routes.
    if (own && member?.nextHop !== undefined) this.#origin.learnHop(url.pathname, member.nextHop);
    // An answer the gateway made without attempting its upstream fails neither (only-if-cached's 504).
    const local = member?.error === 'proxy_internal_response';
    this.#origin.settle(admission, {
      abandoned: !own,
      failed: !pauses && !local && (answer.status === 502 || answer.status === 503 || answer.status === 504),
      local,
      pauseMs: pauses ? after(Math.min(announced, this.#config.maxPause)) : undefined,
      hop: own ? member?.nextHop : undefined,
    });
    this.#lastAnswer = answer;
    this.#lastFailure = undefined;
    // After a redirect a server had the request, whatever the one that answered says of itself;
    // so did the upstream that answered before a hop of the gateway's own failed (a plugin's
    // `connection_refused` in onResponse, its `candor-upstream-status` saying so).
    const delivered = hops.count > 0 || member?.upstreamStatus !== undefined;
    const stage = delivered && stageOf(type) === 'not_sent' ? 'sent' : stageOf(type);
    const next = nextAttempt(
      this.#limits,
      attempt,
      { status: answer.status, type, stage },
      announced,
      pauses,
      waitMs,
    );
    const seen = {
      status: answer.status,
      type,
      proxyStatus: member,
      requestId: answer.headers.get('x-request-id') ?? undefined,
      detail: member?.details ?? member?.unknownError,
      retryAfterMs: announced,
      elapsedMs,
    };
    this.#report(attemptReport(attempt, method, href, seen, next.delayMs, next.reason));
    if (!next.retry) {
      clearTimeout(this.#timer);
      return answer;
    }
    // A pause is waited out in admit(), with every other caller; any other delay here.
    if (!pauses && !(await wait(next.delayMs, this.#signal))) return this.#aborted();
    return undefined;
  }

  #report(entry: AttemptReport): void {
    this.#reports.push(entry);
    try {
      // A logging hook that throws, or rejects (an async one), must not change what the call does.
      const returned: unknown = this.#config.onAttemptFailed?.(entry);
      if (returned instanceof Promise) returned.catch(() => {});
    } catch {
      // (as above)
    }
  }

  /** Ends the call without a response; the caller's own abort wins over anything else. */
  #fail(code: UpstreamErrorCode, extra: Extra = {}): never {
    clearTimeout(this.#timer);
    if (this.#signal.aborted && this.#signal.reason !== this.#deadline) throw this.#signal.reason;
    throw new UpstreamError(code, {
      method: this.#request.method,
      url: this.#request.href,
      attempts: this.#reports,
      type: this.#lastFailure?.type,
      cause: this.#lastFailure,
      ...extra,
    });
  }

  /** Ends the call with what the last attempt left: its response if it got one, else the error. */
  #giveUp(code: UpstreamErrorCode, extra: Extra = {}): Response {
    if (this.#lastAnswer === undefined) return this.#fail(code, extra);
    clearTimeout(this.#timer);
    return this.#lastAnswer;
  }

  /** Ends a call whose signal aborted: the deadline gives up with what it has, the caller's abort throws. */
  #aborted(): Response {
    return this.#signal.reason === this.#deadline
      ? this.#giveUp('UPSTREAM_DEADLINE', {
          detail: `deadline of ${this.#config.deadline} ms passed`,
          stoppedBy: 'deadline',
        })
      : this.#fail('UPSTREAM_UNREACHABLE');
  }
}

/** Sleeps before the next try; false when the call's signal aborted meanwhile. */
async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
