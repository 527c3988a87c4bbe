/**
 * How often, while requests wait, someone looks whether a target is back: the health checks
 * (a probe of every target), or, where this process runs none (no `health_check`, or a cluster
 * worker, whose checks the primary runs), the first waiting request, which tries again on its
 * own. One request at a time, so a queue of a thousand costs a down upstream four connection
 * attempts a second, not four thousand.
 */
export const HOLD_SCOUT_MS = 250;

/** One request waiting for a target (the request's own side: proxy/session/request-hold.ts). */
export interface HeldRequest {
  /** Its place in line, kept when it is held again after a try that found no target. */
  readonly seq: number;
  /** Bytes of its body kept in memory while it waits. */
  readonly bytes: number;
  /**
   * When its wait runs out (performance.now()): woken to try again, it keeps its place (and its
   * bytes) in the bounds until then, unless it comes back in line or says it is over (done).
   */
  readonly until?: number;
  /** A target may take it now: it leaves the queue and tries. */
  wake(): void;
  /** The gateway is draining, or a reload removed the upstream (`why`): it leaves the queue, to be answered at once. */
  drained(why: HoldClosed): void;
}

/** Why a queue takes no request any more: the gateway drains, or a reload removed its upstream. */
export type HoldClosed = 'draining' | 'removed';

/** Why a request could not join the queue. */
export type HoldRefusal = HoldClosed | 'max_requests' | 'max_body';

/**
 * The requests of one upstream that no target could take (every one refused, down or
 * ejected), waiting for one to come back, in order of arrival (upstream `hold`, as Caddy's
 * `lb_try_duration`). Kept by the upstream across reloads, as its counts are.
 *
 * They all go, in order, as soon as a target is seen taking requests again (`targetBack`: a
 * passing health check, or any request a target answered); meanwhile the first of them
 * scouts every HOLD_SCOUT_MS, and a request held asks the health checks to probe now
 * (`probeNow`, at most once every HOLD_SCOUT_MS), not at their next interval. Each request keeps its own deadline
 * (request-hold.ts); the queue bounds how many wait and the bytes they keep.
 */
export class HoldQueue<Owner = unknown> {
  /** Set by the upstream's active checks while they run: probes every target not being probed. */
  probeNow: (() => void) | undefined;
  /**
   * The upstream that holds the queue now: the queue outlives a reload or a DNS answer that
   * rebuilds it, and a woken request tries the targets of now, not those it was held on.
   */
  owner: Owner | undefined;
  #waiting: HeldRequest[] = [];
  /**
   * The requests woken to try again (by seq), out of line for that try: each keeps its place in
   * the bounds (max_requests, max_body) until it comes back in line (enter), is over (done), or
   * its wait ran out; else a request arriving during the try took it, and the one first in line,
   * finding no target again, was refused as past max_requests.
   */
  readonly #trying = new Map<number, { bytes: number; until: number }>();
  #tryingBytes = 0;
  /**
   * Requests waiting in another upstream's queue that this one could take instead (another side
   * of their route's split): nudged once when a target of this one takes requests again. As many
   * as that queue holds at most (its `max_requests`), each gone once nudged.
   */
  readonly #watchers = new Set<() => void>();
  #bytes = 0;
  #nextSeq = 0;
  #closed: HoldClosed | undefined;
  #scout: NodeJS.Timeout | undefined;
  #probedAt = Number.NEGATIVE_INFINITY;

  get size(): number {
    return this.#waiting.length;
  }

  /** Some request waits for a target of this upstream: in its line, or in another side's (watch). */
  get wanted(): boolean {
    return this.#waiting.length > 0 || this.#watchers.size > 0;
  }

  /** A place in line for a request held for the first time. */
  ticket(): number {
    return this.#nextSeq++;
  }

  /** Puts the request in line (by its seq); says why not when it cannot wait. */
  enter(request: HeldRequest, bounds: { maxRequests: number; maxBody: number }): HoldRefusal | undefined {
    if (this.#closed !== undefined) return this.#closed;
    // Its own place, kept while it tried, is the one it takes again.
    this.done(request.seq);
    this.#forgetRunOut();
    if (this.#waiting.length + this.#trying.size >= bounds.maxRequests) return 'max_requests';
    if (this.#bytes + this.#tryingBytes + request.bytes > bounds.maxBody) return 'max_body';
    let at = this.#waiting.length;
    while (at > 0 && this.#waiting[at - 1].seq > request.seq) at--;
    this.#waiting.splice(at, 0, request);
    this.#bytes += request.bytes;
    this.#armScout();
    // At most once a scout's time: a request woken by a passing probe that finds no target
    // yet (short of `rise`, the circuit still open) waits again at once, and must not make
    // that a loop of probes.
    const now = performance.now();
    if (now - this.#probedAt >= HOLD_SCOUT_MS) {
      this.#probedAt = now;
      this.probeNow?.();
    }
    return undefined;
  }

  /**
   * The request left without being woken (its deadline, its client gone): its place goes; or,
   * `toTry` (another side's target came back: it tries where it may go now), it is kept for it.
   */
  leave(request: HeldRequest, toTry = false): void {
    const at = this.#waiting.indexOf(request);
    if (at === -1) return;
    this.#waiting.splice(at, 1);
    this.#bytes -= request.bytes;
    if (this.#waiting.length === 0) this.#stopScout();
    if (toTry) this.#tries(request);
  }

  /** The request of this place in line (its seq) is over, or waits elsewhere: the place it kept while it tried goes. */
  done(seq: number | undefined): void {
    const kept = seq === undefined ? undefined : this.#trying.get(seq);
    if (kept === undefined) return;
    this.#trying.delete(seq as number);
    this.#tryingBytes -= kept.bytes;
  }

  /** Places kept for tries whose requests' waits have run out (answered by their own deadline). */
  #forgetRunOut(): void {
    if (this.#trying.size === 0) return;
    const now = performance.now();
    for (const [seq, kept] of this.#trying) if (kept.until <= now) this.done(seq);
  }

  /** A woken request tries again: its place is kept for it meanwhile. */
  #tries(request: HeldRequest): void {
    if (request.until === undefined || this.#closed !== undefined) return;
    this.#trying.set(request.seq, { bytes: request.bytes, until: request.until });
    this.#tryingBytes += request.bytes;
  }

  /** Nudges a request waiting elsewhere when a target of this upstream takes requests again (once); `unwatch` ends it. */
  watch(nudge: () => void): void {
    this.#watchers.add(nudge);
  }

  unwatch(nudge: () => void): void {
    this.#watchers.delete(nudge);
  }

  /** A target takes requests again: every waiting request goes, in order (and those waiting elsewhere that could come here). */
  targetBack(): void {
    if (this.#watchers.size > 0) for (const nudge of [...this.#watchers]) nudge();
    if (this.#waiting.length === 0) return;
    const all = this.#take();
    for (const request of all) this.#tries(request);
    for (const request of all) request.wake();
  }

  /**
   * The split that sent requests here draws this upstream no more (a canary rolled back): every
   * waiting request goes, in order, to try again where its route sends it now (another route's
   * request finds what it found, and waits again in its place).
   */
  splitChanged(): void {
    this.targetBack();
  }

  /**
   * A drain, or a reload that removed the upstream (no target of it will be looked for again:
   * its checks stopped, and the drain would not find its queue): every waiting request is
   * answered now, and none is held from here on.
   */
  drain(why: HoldClosed = 'draining'): void {
    this.#closed ??= why;
    this.#trying.clear();
    this.#tryingBytes = 0;
    for (const request of this.#take()) request.drained(this.#closed);
  }

  #take(): HeldRequest[] {
    const all = this.#waiting;
    this.#waiting = [];
    this.#bytes = 0;
    this.#stopScout();
    return all;
  }

  #armScout(): void {
    if (this.#scout !== undefined) return;
    this.#scout = setInterval(() => {
      if (this.probeNow !== undefined) {
        this.#probedAt = performance.now();
        return this.probeNow();
      }
      const first = this.#waiting.shift();
      if (first === undefined) return this.#stopScout();
      this.#bytes -= first.bytes;
      if (this.#waiting.length === 0) this.#stopScout();
      this.#tries(first);
      first.wake();
    }, HOLD_SCOUT_MS);
    // Each held request has its own deadline and its client's connection: the scout never keeps a process alive.
    this.#scout.unref();
  }

  #stopScout(): void {
    clearInterval(this.#scout);
    this.#scout = undefined;
  }
}
