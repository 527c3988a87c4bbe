import type { AttemptCounter, GatewayCounter } from '../../core/failure/attempt-counter.ts';
import type { Failure } from '../../core/failure/failure.ts';
import { addTally, bucketOf, emptyTally, isTally } from './latency-tally.ts';

/**
 * What a canary's verdict counts per side; each a two-proportion test against `requests`.
 * `gateway_error` only a fleet's config canary counts (GatewayWindow.ownError): a route's
 * canary leaves it at 0, its route's plugins being neither side's.
 */
export const CANARY_COUNTS = [
  'unreachable',
  'slow',
  'reset',
  'garbage',
  'status_5xx',
  'gateway',
  'gateway_error',
] as const;
export type CanaryCount = (typeof CANARY_COUNTS)[number];

/**
 * The gateway's refusals `gateway` counts: the upstream had no target to take the attempt (none
 * healthy, circuit open) or its pool was full. Its other answers of that shape say nothing of a side.
 */
const WANT_OF_TARGET: ReadonlySet<string> = new Set(['destination_unavailable', 'connection_limit_reached']);

/** Hash keys a window remembers in a step at most (about 2 MB): far more than any step's min_requests. */
const MAX_KEYS = 65_536;

/** One side's window: plain numbers and arrays, so it crosses the IPC channel and Redis as it is. */
export interface SideCounts {
  requests: number;
  unreachable: number;
  slow: number;
  reset: number;
  garbage: number;
  status_5xx: number;
  gateway: number;
  /** Requests the gateway answered with its own error (a 500 `proxy_internal_error`): a config canary's alone. */
  gateway_error: number;
  /** Milliseconds to the response head of every response but a 500–599 (status_5xx), tallied on the fixed grid of latency-tally.ts. */
  latency: number[];
  /**
   * With a `hash_key`: the key (its hash), the counted request (a number drawn for it) and the
   * outcome (outcomeCode) of each attempt counted above for a keyed request, flat triples, so
   * the controller counts a key's one request a step whichever process counted it
   * (key-votes.ts), and takes them off before the window goes further.
   */
  keys?: number[];
}

export interface WindowCounts {
  readonly baseline: SideCounts;
  readonly canary: SideCounts;
}

export function emptySide(): SideCounts {
  return {
    requests: 0,
    unreachable: 0,
    slow: 0,
    reset: 0,
    garbage: 0,
    status_5xx: 0,
    gateway: 0,
    gateway_error: 0,
    latency: emptyTally(),
  };
}

export function emptyWindow(): WindowCounts {
  return { baseline: emptySide(), canary: emptySide() };
}

/**
 * A canary route's counts since the window began, per side, in one process: what each attempt
 * to the baseline or the canary came to. The attempt loop reports here where it already reports
 * an attempt's outcome (attempts.ts): one counter update, and one latency sample for a response.
 * The controller takes the window (and a fresh one starts) at each look.
 */
export class CanaryWindow {
  readonly baseline: string;
  readonly canary: string;
  #sides: WindowCounts = emptyWindow();
  /**
   * The hash keys (their 32-bit hashes) whose request this process counted in the step (an
   * outcome of it recorded, not merely its side drawn): with a
   * `hash_key`, a key counts one request a step (split.ts). The tests assume independent
   * requests, and a key's requests are one user's, all on one side: counted one by one, a client
   * that learns which keys land on the canary sends its failing requests there only and rolls
   * back a canary as good as its baseline (or dilutes a bad one with good requests). One request
   * a key is one user's vote (the controller keeps one across the workers: key-votes.ts). A
   * collision of two keys' hashes leaves the second uncounted, which
   * judges nobody; past MAX_KEYS in a step the set starts again, so memory stays bounded and a
   * key counts once more only after that many others did.
   */
  readonly #keys = new Set<number>();

  constructor(baseline: string, canary: string) {
    this.baseline = baseline;
    this.canary = canary;
  }

  /**
   * One attempt's outcome on `upstream` (outcomeCode: a failure of the four shapes counts as its
   * shape, the gateway's refusal for want of a target as `gateway`, an answer of 500–599 as
   * `status_5xx`; the client's own doings and the gateway's own are not counted); `key`: the
   * hash of the keyed request's key it is (forKey), kept beside it.
   */
  record(
    upstream: string,
    failure: Failure | undefined,
    status: number | undefined,
    ms: number,
    key?: { readonly hash: number; readonly request: number },
  ): void {
    const side =
      upstream === this.canary
        ? this.#sides.canary
        : upstream === this.baseline
          ? this.#sides.baseline
          : undefined;
    if (side === undefined) return;
    const code = outcomeCode(failure, status, ms);
    if (code === undefined) return;
    countOutcome(side, code, 1);
    if (key === undefined) return;
    // The key has its vote of the step now, with its first outcome counted, not when its side
    // was drawn: a request drawn and then answered without an attempt (a cache hit, a 429 of the
    // route's rate limit, a 413) has nothing to count, and had the key's vote gone with it, the
    // users whose first request of a step was a hit never voted (countsKey).
    if (!this.#keys.has(key.hash)) {
      if (this.#keys.size >= MAX_KEYS) this.#keys.clear();
      this.#keys.add(key.hash);
    }
    if (side.keys === undefined) side.keys = [];
    side.keys.push(key.hash, key.request, code);
  }

  /**
   * What the key's one counted request of the step counts through: this window, the key (its
   * hash) and the request (a number drawn for it) beside each outcome (SideCounts.keys), so the
   * controller keeps every attempt of that request (a retry, a hold's answer, as any request's)
   * and takes back another process's request of the key. Made once a key a step.
   */
  forKey(hash: number): AttemptCounter {
    const key = { hash, request: Math.floor(Math.random() * 0x1_0000_0000) };
    return {
      record: (upstream, failure, status, ms) => this.record(upstream, failure, status, ms, key),
    };
  }

  /**
   * Whether the request of this key (its hash) may count: no request of the key had an outcome
   * counted in the step in this process yet (see #keys; record marks it). Several in flight at
   * once may each count: the controller keeps the first whose outcome it meets (key-votes.ts).
   */
  countsKey(hash: number): boolean {
    return !this.#keys.has(hash);
  }

  /** The weights changed (a step, a rollback, a share by hand): every key counts again. */
  newStep(): void {
    this.#keys.clear();
  }

  /** The window so far, and a new one begins. */
  take(): WindowCounts {
    const taken = this.#sides;
    this.#sides = emptyWindow();
    return taken;
  }
}

/**
 * Every attempt of one gateway process, whatever its route or upstream, as one side: a fleet's
 * config canary compares its canary gateways' attempts with the other gateways'
 * (server/fleet/fleet-canary.ts), each counted as a canary route counts its sides (outcomeCode),
 * so the one judge (judge.ts) reads both alike. And every request the gateway answered with its
 * own error (ownError): what a config canary judges is the config, its plugins included, and a
 * plugin that throws makes no attempt to count. The runtime carries it across reloads.
 */
export class GatewayWindow implements GatewayCounter {
  #side: SideCounts = emptySide();
  /**
   * Counting only once a fleet asked for the counts (its first `take`): a gateway that is no
   * fleet's, or whose fleet runs no canary, pays one branch an attempt, not a count and a latency
   * bucket for counts no one reads.
   */
  #counting = false;

  record(_upstream: string, failure: Failure | undefined, status: number | undefined, ms: number): void {
    if (!this.#counting) return;
    const code = outcomeCode(failure, status, ms);
    if (code !== undefined) countOutcome(this.#side, code, 1);
  }

  /**
   * A request the gateway answered with its own error, a 500 `proxy_internal_error` (a plugin
   * threw or overran its time, a gateway bug): one outcome counted, as an attempt's is, told once
   * a request by its log phase (proxy/session/log-phase.ts).
   */
  ownError(): void {
    if (!this.#counting) return;
    this.#side.requests++;
    this.#side.gateway_error++;
  }

  /** The counts so far (none before the first ask), and a new window begins. */
  take(): SideCounts {
    this.#counting = true;
    const taken = this.#side;
    this.#side = emptySide();
    return taken;
  }
}

/** Codes from this one down: a head (or a body) the response (or read) timeout gave up on, `slow` and a latency sample in bucket SLOW_WAITED − code. */
const SLOW_WAITED = -1 - CANARY_COUNTS.length;

/**
 * One attempt's outcome as one number, or undefined when it is not counted: a failure of the
 * four shapes (as its shape), the gateway's refusal for want of a target (`gateway`), each as
 * −1 − its index in CANARY_COUNTS (a head or body timed out as SLOW_WAITED − its wait's bucket); an
 * answer as twice its latency's bucket, plus one for a 500–599. The client's own doings (it
 * left, its deadline) judge nobody, nor do the gateway's own (out of descriptors or ports: proxy_resources_exhausted, its target never asked; a total
 * deadline its own pool queue or a stage's hold spent: ownWaitSpent), nor another hop's (a plugin's fetch:
 * `nextHop`), which the side's answer came before (that answer, and one a plugin's onResponse
 * threw on, is counted as it came: AttemptMetrics.attemptFailed).
 */
function outcomeCode(
  failure: Failure | undefined,
  status: number | undefined,
  ms: number,
): number | undefined {
  if (failure === undefined)
    return 2 * bucketOf(ms) + (status !== undefined && status >= 500 && status <= 599 ? 1 : 0);
  if (failure.judgesNoTarget) return undefined;
  // The target took the request and sent no head within the gateway's timeouts.response (or
  // stopped its body past timeouts.read): its `slow`, and a latency sample of the wait, as a
  // client that gave up waiting is one (the answer came no sooner). A slow failure alone, a canary
  // hanging half its requests to a 504 (or stalling half its bodies) was judged on latency by its
  // answered half, as fast as the baseline's, and promoted (timed-out-heads.test.ts).
  if (failure.type === 'http_response_timeout' || failure.type === 'connection_read_timeout')
    return SLOW_WAITED - bucketOf(ms);
  const shape = failure.kind.shape;
  if (shape === 'unreachable' || shape === 'slow' || shape === 'reset' || shape === 'garbage')
    return -1 - CANARY_COUNTS.indexOf(shape);
  return WANT_OF_TARGET.has(failure.type) ? -1 - CANARY_COUNTS.indexOf('gateway') : undefined;
}

/** Counts an outcome (outcomeCode) on a side, `by` 1, or −1 to take back one counted twice (key-votes.ts). */
export function countOutcome(side: SideCounts, code: number, by: 1 | -1): void {
  side.requests += by;
  if (code <= SLOW_WAITED) {
    side.slow += by;
    side.latency[SLOW_WAITED - code] += by;
    return;
  }
  if (code < 0) {
    side[CANARY_COUNTS[-1 - code]] += by;
    return;
  }
  // An answer of 500–599 is a failure, not a latency: a fast error is no fast answer (a baseline
  // whose dependency is down answers 503 at once, and its median was those, so a canary that
  // answered was "slower": fast-errors.test.ts). It counts as status_5xx alone.
  if (code % 2 === 1) side.status_5xx += by;
  else side.latency[code >> 1] += by;
}

/** Windows of several processes (workers, gateways) as one: every count, and every bucket of the tallies, added. */
export function mergeWindows(windows: readonly WindowCounts[]): WindowCounts {
  const merged = emptyWindow();
  for (const window of windows) addWindow(merged, window);
  return merged;
}

/**
 * Adds a window to running totals (a step's, the fleet's): one pass over the counts and the
 * latency grid, the same work however many requests either holds.
 */
export function addWindow(into: WindowCounts, from: WindowCounts): void {
  addSide(into.baseline, from.baseline);
  addSide(into.canary, from.canary);
}

/** Adds a side's counts to another's (`by` −1: takes them away, what a later total had more). */
export function addSide(into: SideCounts, from: SideCounts, by: 1 | -1 = 1): void {
  into.requests += by * from.requests;
  for (const count of CANARY_COUNTS) into[count] += by * from[count];
  addTally(into.latency, from.latency, by);
  if (from.keys === undefined) return;
  if (into.keys === undefined) into.keys = [];
  for (const n of from.keys) into.keys.push(n);
}

/**
 * A window as another process sent it (a gateway of the fleet through Redis), or undefined when
 * it is not one: every count a non-negative whole number and the latency a tally of this grid.
 * A gateway of another version (whose latency was a list of samples) is not counted at all.
 */
export function windowOf(value: unknown): WindowCounts | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { baseline, canary } = value as Record<string, unknown>;
  const b = sideOf(baseline);
  const c = sideOf(canary);
  return b !== undefined && c !== undefined ? { baseline: b, canary: c } : undefined;
}

/** Counts an older gateway's side lacks (it counted none of them): read as 0. */
const NEWER_COUNTS: ReadonlySet<string> = new Set<CanaryCount>(['gateway_error']);

/**
 * A value another process sent (a worker, a gateway through etcd or Redis) as one side's counts,
 * or undefined when it is not one: every count a whole number, the latency a tally. A count newer
 * than its sender (NEWER_COUNTS) is set to 0 in it, so a fleet part-way through an upgrade judges on.
 */
export function sideOf(value: unknown): SideCounts | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const side = value as Record<string, unknown>;
  const whole = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  for (const count of NEWER_COUNTS) if (side[count] === undefined) side[count] = 0;
  const counts = whole(side.requests) && CANARY_COUNTS.every((c) => whole(side[c]));
  return counts && isTally(side.latency) ? (side as unknown as SideCounts) : undefined;
}
