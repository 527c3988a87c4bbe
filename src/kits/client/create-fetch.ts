/**
 * createFetch: the global fetch's signature with the retry discipline of the gateway, for
 * apps that call APIs through gateways. One call is a loop of attempts: wait for the origin
 * (its pause, its circuit), send, read the outcome against the failure table, then retry
 * only what the table, the method, the body, the attempts, the deadline and the budget all
 * allow, after a full-jitter backoff or the Retry-After the origin announced.
 *
 * What a call ends with: the last Response whenever an HTTP response came (a 502 that may
 * not be retried, or the last of the retries, resolves like fetch would); an UpstreamError
 * only when there is no response to give (the connection failed, the deadline passed, the
 * circuit is open); the caller's own abort reason when its signal aborts, as fetch does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Failure } from '../../core/failure/failure.ts';
import { readProxyStatus, typeAnswered } from '../../core/failure/proxy-status.ts';
import type { NoRetryReason } from '../../core/retry/reasons.ts';
import { retryAfterMs } from '../../core/retry/retry-after.ts';
import { type AttemptReport, attemptReport } from './attempt-report.ts';
import { callHeaders } from './call-headers.ts';
import { readFraming } from './framing.ts';
import { type CallLimits, nextAttempt } from './next-attempt.ts';
import { type ClientConfig, type ClientOptions, resolveOptions } from './options.ts';
import { type Admission, OriginState } from './origin-state.ts';
import { type Hops, type Redirectable, refusedRedirect, sendFollowing } from './redirects.ts';
import { bodySource, type ReplayableBody } from './replayable-body.ts';
import { classifyFetchError, isFailedStatus, stageOf } from './retry-rules.ts';
import { shownUrl, withoutCredentials } from './shown-url.ts';
import { UpstreamError, type UpstreamErrorCode } from './upstream-error.ts';

/** fetch's init, whose body may also be a function that makes a fresh body for each attempt. */
export interface ClientRequestInit extends Omit<RequestInit, 'body'> {
  body?: RequestInit['body'] | ReplayableBody;
}

/** A function with the global fetch's signature (assignable to `typeof fetch`). */
export type ResilientFetch = (input: string | URL | Request, init?: ClientRequestInit) => Promise<Response>;

/** Origins whose state (circuit, budget, pause) one client keeps; the least recently called goes first. */
const MAX_ORIGINS = 1_000;

/** The deadline's abort reason, told apart from the caller's by identity. */
class DeadlineReached extends Error {}

/**
 * A fetch that retries what is safe to retry, and nothing else.
 *
 * @example
 * const api = createFetch({ attempts: 3, deadline: 10_000, idempotencyKey: true });
 * const res = await api('https://api.example.com/orders', { method: 'POST', body: JSON.stringify(order) });
 */
export function createFetch(options: ClientOptions = {}): ResilientFetch {
  const config = resolveOptions(options);
  // Least recently used first: a client that calls many distinct origins (a host per tenant)
  // keeps the state of the last MAX_ORIGINS, not of every origin it ever called.
  const origins = new Map<string, OriginState>();
  const originOf = (url: URL): OriginState => {
    let state = origins.get(url.origin);
    if (state === undefined) {
      state = new OriginState(config);
      if (origins.size >= MAX_ORIGINS) origins.delete(origins.keys().next().value as string);
    } else origins.delete(url.origin);
    origins.set(url.origin, state);
    return state;
  };
  // async, so that a URL that does not parse rejects as fetch's would: a caller's .catch sees it.
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    // Only HTTP is judged: another scheme (data:, or file: and ws: fetch refuses) is fetch's call, once.
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return (config.fetch ?? globalThis.fetch)(input, init as RequestInit);
    return call(config, originOf(url), url, input, init);
  };
}

async function call(
  config: ClientConfig,
  origin: OriginState,
  url: URL,
  input: string | URL | Request,
  init: ClientRequestInit,
): Promise<Response> {
  const method = normalizeMethod(init.method ?? (input instanceof Request ? input.method : 'GET'));
  const headers = callHeaders(config, input, init, method);
  const body = bodySource(init.body);
  const facts = { method, idempotencyKey: headers.has('idempotency-key'), replayable: body.replayable };
  const href = shownUrl(url);
  const callerSignal = init.signal ?? (input instanceof Request ? input.signal : undefined);
  // Redirects fetch would follow are followed here, hop by hop, to know that one was answered.
  const follow = (init.redirect ?? (input instanceof Request ? input.redirect : 'follow')) === 'follow';
  const redirectable: Redirectable = {
    method,
    headers,
    hasBody:
      init.body != null || (init.body === undefined && input instanceof Request && input.body !== null),
    replayable: body.replayable,
    body: () => (init.body != null ? body.take() : input instanceof Request ? input.clone().body : null),
  };
  callerSignal?.throwIfAborted();

  // One signal for the whole call: the caller's abort and the deadline both end every
  // attempt and every wait at once. (AbortSignal.any holds the caller's signal weakly: a
  // long-lived one shared by many calls collects no listeners.)
  const deadline = new DeadlineReached(`deadline of ${config.deadline} ms passed`);
  const deadlineController = new AbortController();
  const timer = setTimeout(() => deadlineController.abort(deadline), config.deadline);
  const signal = callerSignal
    ? AbortSignal.any([callerSignal, deadlineController.signal])
    : deadlineController.signal;
  const deadlineAt = performance.now() + config.deadline;

  const reports: AttemptReport[] = [];
  const report = (entry: AttemptReport) => {
    reports.push(entry);
    try {
      // A logging hook that throws, or rejects (an async one), must not change what the call does.
      const returned: unknown = config.onAttemptFailed?.(entry);
      if (returned instanceof Promise) returned.catch(() => {});
    } catch {
      // (as above)
    }
  };
  /** The last failed attempt: its response (held until the next attempt goes), or its connection failure. */
  let lastResponse: Response | undefined;
  let lastFailure: Failure | undefined;

  /** Ends the call without a response; the caller's own abort wins over anything else. */
  /** `stoppedBy`: why a retry the last attempt's report announced was not made after all. */
  type Extra = { detail?: string; retryAfterMs?: number; stoppedBy?: NoRetryReason };
  const fail = (code: UpstreamErrorCode, extra: Extra = {}): never => {
    clearTimeout(timer);
    if (signal.aborted && signal.reason !== deadline) throw signal.reason;
    throw new UpstreamError(code, {
      method,
      url: href,
      attempts: reports,
      type: lastFailure?.type,
      cause: lastFailure,
      ...extra,
    });
  };
  /** Ends the call with what the last attempt left: its response if it got one, else the error. */
  const giveUp = (code: UpstreamErrorCode, extra: Extra = {}): Response => {
    if (lastResponse === undefined) return fail(code, extra);
    clearTimeout(timer);
    return lastResponse;
  };
  const aborted = () =>
    signal.reason === deadline
      ? giveUp('UPSTREAM_DEADLINE', {
          detail: `deadline of ${config.deadline} ms passed`,
          stoppedBy: 'deadline',
        })
      : fail('UPSTREAM_UNREACHABLE');

  const limits: CallLimits = { config, origin, facts, deadlineAt };

  for (let attempt = 1; ; attempt++) {
    let admission: Admission;
    try {
      admission = await origin.admit(url.pathname, deadlineAt, signal);
    } catch {
      return aborted();
    }
    if (admission.kind === 'circuit_open') {
      return giveUp('UPSTREAM_CIRCUIT_OPEN', {
        detail: `circuit open for ${url.origin}${admission.hop === undefined ? '' : ` (its upstream "${admission.hop}")`}, next probe in ${Math.ceil(admission.retryAfterMs)} ms`,
        retryAfterMs: admission.retryAfterMs,
        stoppedBy: 'circuit_open',
      });
    }
    if (admission.kind === 'paused_past_deadline') {
      return giveUp('UPSTREAM_DEADLINE', {
        detail:
          admission.hop === undefined
            ? `${url.origin} asked for a pause (Retry-After) that ends after this call's deadline`
            : `${url.origin} asked for a pause (Retry-After) of its upstream "${admission.hop}" that ends after this call's deadline`,
        retryAfterMs: admission.until - performance.now(),
        stoppedBy: 'retry_after_past_deadline',
      });
    }
    // The failed answer kept for a giving-up is not needed any more: let its connection go.
    // Not awaited: nothing may come between the admission and the send (a pause could begin).
    lastResponse?.body?.cancel().catch(() => {});
    lastResponse = undefined;
    if (attempt === 1) origin.budget?.called(performance.now());

    const attemptStart = performance.now();
    // The deadline ends the wait for this attempt's head, not its body: a response the call
    // later gives up with (its deadline passing in a wait) must still be readable. The
    // caller's abort reaches the body too, as with fetch.
    const headDeadline = new AbortController();
    const untilHead = () => headDeadline.abort(deadline);
    deadlineController.signal.addEventListener('abort', untilHead, { once: true });
    const attemptSignal = callerSignal
      ? AbortSignal.any([callerSignal, headDeadline.signal])
      : headDeadline.signal;
    let response: Response;
    const hops: Hops = { count: 0, url };
    try {
      const attemptInit = { ...init, method, headers, signal: attemptSignal } as RequestInit & {
        duplex?: 'half';
      };
      if (init.body === undefined || init.body === null) delete attemptInit.body;
      else attemptInit.body = body.take();
      if (body.streamed) attemptInit.duplex = 'half';
      const send = config.fetch ?? globalThis.fetch;
      const target = input instanceof Request ? input.clone() : url;
      if (follow) attemptInit.redirect = 'manual';
      response = follow
        ? await sendFollowing(send, target, attemptInit, redirectable, hops)
        : await send(target, attemptInit);
      const framed = readFraming(response, method);
      if (framed instanceof TypeError) throw framed;
      response = framed;
    } catch (err) {
      const elapsedMs = performance.now() - attemptStart;
      if (signal.aborted) {
        // An attempt that waited at least half the call's deadline and was cut hung: a failure
        // for the circuit (a hung origin must open it too). One cut after a short wait, the end of
        // a call that spent its time elsewhere, says nothing about the origin.
        const hung =
          signal.reason === deadline && elapsedMs >= config.deadline / 2 && hops.url.origin === url.origin;
        origin.settle(admission, hung ? { failed: true } : { abandoned: true });
        if (signal.reason === deadline) {
          // This attempt met no failure the table names: an earlier one's is not why the call ended.
          lastFailure = undefined;
          const detail = `no response within the deadline of ${config.deadline} ms`;
          report(attemptReport(attempt, method, href, { elapsedMs, detail }, undefined, 'deadline'));
          return fail('UPSTREAM_DEADLINE', { detail });
        }
        return fail('UPSTREAM_UNREACHABLE');
      }
      // fetch's network errors carry their cause; any other rejection is the call's own mistake
      // (a GET with a body, a bad header), which fetch would have thrown as well. So is a
      // redirect fetch would not follow: the origin answered, and the same request would meet
      // the same redirect (a loop sent again would triple its load); and a bad port, never tried.
      if (!(err instanceof Error) || err.cause === undefined || refusedRedirect(err)) {
        origin.settle(admission, { abandoned: true });
        clearTimeout(timer);
        throw withoutCredentials(err, url);
      }
      lastFailure = classifyFetchError(err, elapsedMs);
      // A server answered with a redirect: the request reached it, whatever the next hop met.
      if (hops.count > 0 && lastFailure.stage === 'not_sent') lastFailure = lastFailure.at('sent');
      origin.settle(admission, hops.url.origin === url.origin ? { failed: true } : { abandoned: true });
      const { type, stage } = lastFailure;
      const details =
        hops.count === 0
          ? lastFailure.details
          : `${lastFailure.details}, at ${shownUrl(hops.url)} after ${hops.count} redirect${hops.count === 1 ? '' : 's'}`;
      const next = nextAttempt(limits, attempt, { status: undefined, type, stage }, undefined);
      report(
        attemptReport(attempt, method, href, { elapsedMs, type, detail: details }, next.delayMs, next.reason),
      );
      if (!next.retry) return fail('UPSTREAM_UNREACHABLE');
      if (!(await wait(next.delayMs, signal))) return aborted();
      continue;
    } finally {
      deadlineController.signal.removeEventListener('abort', untilHead);
    }

    if (!isFailedStatus(response.status)) {
      origin.settle(admission, {});
      clearTimeout(timer);
      return response;
    }
    const elapsedMs = performance.now() - attemptStart;
    // The gateway this client talks to wrote the last member; an inner one's error is not how
    // far this request got (its `received-status` says the request was delivered).
    const member = readProxyStatus(response.headers.get('proxy-status') ?? undefined);
    const type = typeAnswered(member?.error, response.status);
    const announced = retryAfterMs(response.headers.get('retry-after'));
    // Another origin a redirect led to speaks for itself: its failure, its pause are not this
    // origin's (this call still waits its Retry-After, as a delay).
    const own = hops.url.origin === url.origin;
    // A Retry-After of 0 (or a date past) asks for no pause: nobody need wait behind a probe.
    const pauses =
      own && announced !== undefined && announced > 0 && (response.status === 503 || response.status === 429);
    // A gateway that names the upstream it answered for speaks for that upstream: its failure
    // and its pause hold the paths that go there, not the gateway's other routes.
    if (own && member?.nextHop !== undefined) origin.learnHop(url.pathname, member.nextHop);
    // An answer the gateway made without attempting its upstream fails neither (only-if-cached's 504).
    const local = member?.error === 'proxy_internal_response';
    origin.settle(admission, {
      abandoned: !own,
      failed:
        !pauses && !local && (response.status === 502 || response.status === 503 || response.status === 504),
      local,
      pauseMs: pauses ? Math.min(announced, config.maxPause) : undefined,
      hop: own ? member?.nextHop : undefined,
    });
    lastResponse = response;
    lastFailure = undefined;
    // After a redirect a server had the request, whatever the one that answered says of itself.
    const stage = hops.count > 0 && stageOf(type) === 'not_sent' ? 'sent' : stageOf(type);
    const next = nextAttempt(limits, attempt, { status: response.status, type, stage }, announced, pauses);
    const seen = {
      status: response.status,
      type,
      proxyStatus: member,
      requestId: response.headers.get('x-request-id') ?? undefined,
      detail: member?.details ?? member?.unknownError,
      retryAfterMs: announced,
      elapsedMs,
    };
    report(attemptReport(attempt, method, href, seen, next.delayMs, next.reason));
    if (!next.retry) {
      clearTimeout(timer);
      return response;
    }
    // A pause is waited out in admit(), with every other caller; any other delay here.
    if (!pauses && !(await wait(next.delayMs, signal))) return aborted();
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

/** The Fetch standard's method normalization: these six are upper-cased, any other is sent as written. */
const NORMALIZED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED.has(upper) ? upper : method;
}
