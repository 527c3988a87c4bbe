import type { RouteConfig } from '../../core/config/types.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { headCame } from '../../core/failure/taxonomy.ts';
import { backoffDelay } from '../../core/retry/backoff.ts';
import { IDEMPOTENT_METHODS } from '../../core/retry/idempotent.ts';
import type { RetrySkip } from '../../core/retry/reasons.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';

interface RetryContext {
  readonly req: {
    readonly method: string;
    readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  };
  readonly route: RouteConfig;
  readonly upstream: Upstream;
  /** Attempts made so far, the failed one included. */
  readonly attempts: number;
  /** The body can be sent again (none, or buffered). */
  readonly bodyReplayable: boolean;
  /** Milliseconds left before the route's total deadline. */
  readonly remaining: number;
  /** Every target in rotation was tried: a retry would go to one that already failed. */
  readonly noFreshTarget: boolean;
  /** The failed attempt went out on a pooled connection that had carried a request before. */
  readonly reusedConnection: boolean;
  /** The failed attempt was the circuit's half-open probe, and its failure opened the circuit again: the probe may go on. */
  readonly retryOfProbe?: boolean;
}

/**
 * The decide phase's retry rule. A request that never reached the upstream may go again
 * whatever its method; one that reached it only if it is idempotent (or carries an
 * Idempotency-Key where the route allows it) and its body can be replayed. Never after a
 * response head. Bounded by attempts, the deadline, the upstream's circuit and its retry budget.
 * Returns why not, or undefined when a retry is allowed.
 */
export function whyNotRetry(failure: Failure, ctx: RetryContext): RetrySkip | undefined {
  const policy = ctx.upstream.config.retries;
  if (ctx.attempts >= policy.attempts) return 'attempts';
  if (!policy.on.includes(failure.type)) return 'not_retryable';
  if (headCame(failure.stage)) return 'after_head';
  if (failure.stage === 'sent') {
    // One the upstream said it never processed could go again whatever its method: only its body, spent, keeps it.
    if (!failure.unprocessed && !isIdempotent(ctx.req, ctx.route)) return 'not_idempotent';
    if (!ctx.bodyReplayable) return 'body_not_replayable';
  }
  if (ctx.remaining <= 0) return 'deadline';
  // The same target again helps only when the request never got there (or went unprocessed:
  // a stream refused, above a GOAWAY's last) or died with a stale pooled connection (the
  // keep-alive race); a timeout or a crash would just repeat.
  const stale = keepAliveRace(failure, ctx.reusedConnection, ctx.upstream);
  if (ctx.noFreshTarget && failure.stage !== 'not_sent' && !failure.unprocessed && !stale) return 'no_target';
  // The circuit would refuse the retry (the request's own failures may just have opened it, or
  // it is half-open with its probes out): the client gets the failure its attempt met, not the
  // circuit's 503 for a try never made. Asked as the end of the backoff asks it: a retry decided
  // only to be called off there was charged to the budget, a token spent on no retry.
  if (!letsRetry(ctx.upstream, ctx.retryOfProbe === true)) return 'circuit_open';
  // A stale pooled connection says nothing about the upstream's health and adds no load to
  // a failing one: charging it to the budget would turn a benign race into client errors.
  // Nor does an HTTP/2 session's graceful end racing the request (sessionEnded): nginx's
  // keepalive_requests ends one every 100 streams, refusing those in flight past its last.
  if (!stale && !failure.sessionEnded && !ctx.upstream.retryBudget.allows()) return 'budget';
  return undefined;
}

/**
 * A failure once the response head went downstream (a body cut, a trailer section too large)
 * is never retried: why not, as the rule's first checks say it (`after_head` for a type
 * `retries.on` names), for the log's `retry_skipped` and its counter.
 */
export function whyNotRetryAfterHead(failure: Failure, upstream: Upstream, attempts: number): RetrySkip {
  const policy = upstream.config.retries;
  if (attempts >= policy.attempts) return 'attempts';
  return policy.on.includes(failure.type) ? 'after_head' : 'not_retryable';
}

/** What the decide phase says of a failed attempt: why it is not retried, or when the retry goes. */
type RetryVerdict =
  | { readonly skip: RetrySkip }
  | {
      readonly skip: undefined;
      /** The backoff before the retry, in ms. */
      readonly delay: number;
      /** Whether the retry is charged to the budget (the keep-alive race is not, see whyNotRetry). */
      readonly charged: boolean;
    };

/**
 * The least of the total deadline a retry starts with, in ms. A retry begun a few ms before the
 * deadline meets it mid-attempt whenever the event loop is a little late (a loaded machine): the
 * client then got the deadline's 504 for an upstream that had only refused, a slowness nobody
 * saw. Ten ms is some ten loopback connects, and nothing beside any deadline a route would set.
 */
export const RETRY_FLOOR_MS = 10;

/** Whether a retry whose backoff is `delay` ms, with `remaining` ms of the total deadline left, has its floor of time. */
export function leavesTimeForRetry(remaining: number, delay = 0): boolean {
  return remaining - delay >= RETRY_FLOOR_MS;
}

/** whyNotRetry, then the backoff: a retry that could only start at the deadline, or just short of it, is not made either. */
export function decideRetry(failure: Failure, ctx: RetryContext): RetryVerdict {
  const skip = whyNotRetry(failure, ctx);
  if (skip !== undefined) return { skip };
  const delay = backoffDelay(ctx.upstream.config.retries, ctx.attempts);
  // It would be answered by the deadline's 504: the client gets the failure that happened instead.
  if (!leavesTimeForRetry(ctx.remaining, delay)) return { skip: 'deadline' };
  return {
    skip: undefined,
    delay,
    charged: !keepAliveRace(failure, ctx.reusedConnection, ctx.upstream) && !failure.sessionEnded,
  };
}

/**
 * The keep-alive race: a reused HTTP/1.1 connection the upstream had already closed or reset.
 * Never an HTTP/2 one: its session outlives its streams, so nearly every stream goes on a reused
 * one, and a stream reset there is the upstream refusing this request, not a stale connection
 * (taken for one, a target resetting every stream got each request three times, the budget
 * bypassed); a session the upstream ends says so by GOAWAY, whose refusals (a stream it did not
 * process, RFC 9113 §8.7) are how an overloaded server sheds load, charged to the budget too
 * (but for a graceful end of a session that had served streams: Failure's sessionEnded).
 */
function keepAliveRace(failure: Failure, reusedConnection: boolean, upstream: Upstream): boolean {
  return (
    reusedConnection &&
    upstream.config.protocol === 'http1' &&
    failure.type === 'connection_terminated' &&
    !failure.unprocessed
  );
}

/**
 * A retry after the keep-alive race that goes to the same target asks for a new connection: the
 * connections parked beside the one that died (a burst, an idle timeout that fires for all) may
 * be as stale, and a retry that met the next one answered the client the 502 it was for.
 */
export function newConnectionAfter(
  last: Failure | undefined,
  reused: boolean | undefined,
  upstream: Upstream,
  sameTarget: boolean,
): boolean {
  return last !== undefined && sameTarget && keepAliveRace(last, reused === true, upstream);
}

function isIdempotent(
  req: { readonly method: string; readonly headers: Readonly<Record<string, string | string[] | undefined>> },
  route: RouteConfig,
): boolean {
  if (IDEMPOTENT_METHODS.has(req.method)) return true;
  // An empty key names no operation the upstream could recognise a second time.
  const key = req.headers['idempotency-key'];
  return route.retryIdempotencyKey && typeof key === 'string' && key.trim() !== '';
}

/**
 * Whether the failed attempt was the circuit's half-open probe (or its going on) and its failure
 * opened the circuit again (open, still in its open time): then the probe is the request, and its
 * retry goes on past that circuit (letsRetry, selectTarget), as any refused request's retry
 * does. Refused as the circuit's, a target back from a restart, still ejected, beside one still
 * refusing (which holds max_ejected_percent's place and so takes every probe) was never asked, and
 * the upstream answered 503 for the whole ejection though a target could serve.
 */
export function probeGoesOn(
  attempt: { readonly circuitProbe: boolean; readonly probeGoesOn: boolean } | undefined,
  upstream: Upstream,
): boolean {
  if (attempt === undefined || !(attempt.circuitProbe || attempt.probeGoesOn)) return false;
  return upstream.circuit.stateAt(performance.now()) === 'open';
}

/** Whether the upstream's circuit lets a retry go: it would admit one, or the retry is its probe going on (probeGoesOn). */
export function letsRetry(upstream: Upstream, probe: boolean): boolean {
  const now = performance.now();
  return (probe && upstream.circuit.stateAt(now) === 'open') || upstream.circuit.wouldAdmit(now);
}
