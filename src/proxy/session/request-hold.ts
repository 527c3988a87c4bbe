import type { HoldConfig } from '../../core/config/types.ts';
import { Failure } from '../../core/failure/failure.ts';
import { isCircuitRefusal } from '../../upstream/breakers/circuit-refusals.ts';
import type { HeldRequest, HoldRefusal } from '../../upstream/targets/hold-queue.ts';
import type { Upstream } from '../../upstream/targets/upstream.ts';
import { type Admitted, goesTo, timeoutsOf } from '../admit/admit-request.ts';
import type { UpstreamRequest } from '../forward/upstream-request.ts';
import type { OwnCall } from './attempts-owner.ts';
import { otherUpstreams, upstreamAway } from './hold-elsewhere.ts';
import type { SessionRequest } from './session-request.ts';

/** What a held request does when its wait ends: try again, or be answered. */
export interface HoldOwner {
  /** A target may take the request now: one of `upstream`, the upstream of now (a reload's, a DNS answer's). */
  tryAgain(upstream: Upstream): void;
  /** No target will in time (or the gateway drains): the request is answered with this. */
  end(failure: Failure): void;
}

/** The request's total deadline, as a hold it passed in sees it (total-deadline.ts). */
interface IdleDeadline {
  readonly byClient: boolean;
  passedIdle(doing: string, last: Failure, tries: number): Failure;
}

/** What a hold tells the request's metrics (attempt-metrics.ts). */
interface HoldMeasure {
  holding(): void;
  moved(upstream: string): void;
}

/**
 * The failures after which a request may wait for a target: nothing of it reached an upstream,
 * and the cause is a target that is not there (refused, or none in rotation: down, ejected,
 * circuit open). A connect timeout or a full pool is no restart: those are answered at once.
 */
const WAITS_OUT = new Set(['connection_refused', 'destination_unavailable']);

/** A discovered upstream with no target found yet answers with its DNS failure (undiscovered.ts): none is there to wait for either. */
function noTargetThere(failure: Failure, upstream: Upstream): boolean {
  return (
    WAITS_OUT.has(failure.type) || (upstream.config.discovery !== undefined && upstream.targets.length === 0)
  );
}

/**
 * A request's hold, made when it may first wait: none where its upstream has no `hold` (it runs
 * none of the hold's code), nor for a call the gateway makes itself (`own`: the client's request
 * it is for is the one waiting).
 */
export function holdOf(
  admitted: Admitted,
  own: OwnCall | undefined,
  req: SessionRequest,
  owner: HoldOwner,
  measure: HoldMeasure,
): RequestHold | undefined {
  const config = own === undefined ? admitted.upstream.config.hold : undefined;
  return config === undefined ? undefined : new RequestHold(admitted, config, req, owner, measure);
}

/**
 * One request's side of its upstream's `hold` (the queue: upstream/targets/hold-queue.ts):
 * whether it may wait, for how long in all (its waits add up against `hold.timeout`, so a
 * request held again after a try that found no target keeps its place in line and its
 * deadline), and the honest 503 when it cannot: `destination_unavailable` with Retry-After,
 * the last try's failure named in its details. The record's `heldMs` is what it waited.
 *
 * On a split route (a canary's too) the request's side is a draw, not a promise: one that
 * another side can take now goes there rather than wait for its own side's targets, and one
 * already waiting goes to the side drawn when it wakes (a rollback wakes it: the baseline).
 */
export class RequestHold {
  #upstream: Upstream;
  readonly #owner: HoldOwner;
  /** The `hold` of the upstream the request was sent to (kept if it moves to another side: its bounds, in that side's line). */
  readonly #config: HoldConfig;
  /** The `timeouts.total` the request's deadline runs on: the upstream's it was sent to, kept if it moves to another side. */
  readonly #total: number;
  readonly #req: SessionRequest;
  /** Where else it may go (the stage that chose its upstream: a split's sides, drawn again on the fields the first draw read). */
  readonly #elsewhere: Admitted['elsewhere'];
  /** It went to another side since it was last refused: the next refusal waits (no two sides tried in turn forever). */
  #moved = false;
  #seq: number | undefined;
  #heldMs = 0;
  #waited = false;
  /** The failure it last waited after: what a deadline passing during the try it was woken for names. */
  #last: Failure | undefined;
  /** That deadline passed (deadlinePassedTrying): the answer to the try's failure. */
  #deadlineAnswer: Failure | undefined;
  #waiting:
    | { entry: HeldRequest; since: number; timer: NodeJS.Timeout; last: Failure; watched: Upstream[] }
    | undefined;

  /** The request's metrics: a canary's window counts a held request once, not each try while it waits. */
  readonly #measure: HoldMeasure;

  constructor(
    admitted: Admitted,
    config: HoldConfig,
    req: SessionRequest,
    owner: HoldOwner,
    measure: HoldMeasure,
  ) {
    this.#upstream = admitted.upstream;
    this.#req = req;
    this.#elsewhere = admitted.elsewhere;
    this.#owner = owner;
    this.#measure = measure;
    this.#config = config;
    this.#total = timeoutsOf(admitted).total;
  }

  /** Milliseconds the request waited for a target in all (the record's `heldMs`); undefined: it never waited. */
  get heldMs(): number | undefined {
    return this.#waited ? this.#heldMs : undefined;
  }

  /**
   * The request failed with `failure` and will not be retried now: it waits if it may
   * (returns undefined), else returns what to answer. `bodyBytes`: what its body keeps in
   * memory, undefined when the body streams from the client (never held: it can be sent once).
   */
  wait(failure: Failure, bodyBytes: number | undefined): Failure | undefined {
    const hold = this.#config;
    if (this.#deadlineAnswer !== undefined) return this.#deadlineAnswer;
    if (this.#waiting !== undefined) return failure;
    // Woken with every other request held, it met a pool they fill (past max_connections and
    // max_pending): the hold's own surge, not the upstream's answer; it waits again in its place
    // (the next answer wakes it), and past hold.timeout gets the pool's 503 as it is.
    const crowded = this.#waited && failure.type === 'connection_limit_reached';
    if (failure.stage !== 'not_sent' || bodyBytes === undefined) return failure;
    if (!crowded && !noTargetThere(failure, this.#upstream)) return failure;
    const elsewhere = this.#moved || crowded ? undefined : this.#away(true);
    if (elsewhere instanceof Failure) return elsewhere;
    if (elsewhere !== undefined) return void this.#owner.tryAgain(elsewhere);
    const left = hold.timeout - this.#heldMs;
    if (left <= 0) return crowded ? failure : this.#timedOut(hold, failure);
    const others = this.#elsewhere?.upstreamsNow(false);
    if (others instanceof Failure) return others;
    const queue = this.#upstream.hold;
    this.#seq ??= queue.ticket();
    const entry: HeldRequest = {
      seq: this.#seq,
      bytes: bodyBytes,
      // Woken to try again, it keeps its place for the time it has left (the queue's bounds).
      until: performance.now() + left,
      wake: () => {
        this.#stop();
        this.#moved = false;
        const elsewhere = this.#away(false);
        if (elsewhere instanceof Failure) return this.#owner.end(elsewhere);
        if (elsewhere !== undefined) return this.#owner.tryAgain(elsewhere);
        // The upstream as it is now (a reload or DNS may have moved it); the refusals that made
        // it wait may have opened its circuit: its probe goes with this try.
        const upstream = queue.owner ?? this.#upstream;
        upstream.circuit.probeNow(performance.now());
        this.#owner.tryAgain(upstream);
      },
      drained: (why) => {
        this.#stop();
        this.#owner.end(crowded ? failure : this.#refused(why, hold, failure));
      },
    };
    const refusal = queue.enter(entry, hold);
    if (refusal !== undefined) return crowded ? failure : this.#refused(refusal, hold, failure);
    const timer = setTimeout(() => {
      queue.leave(entry);
      this.#stop();
      this.#owner.end(crowded ? failure : this.#timedOut(hold, failure));
    }, left);
    // On a split route, a target of another side coming back wakes it too: it may go there.
    const watched = otherUpstreams(this.#req.runtime.upstreams, others, this.#upstream);
    for (const other of watched) other.hold.watch(this.#nudge);
    this.#waiting = { entry, since: performance.now(), timer, last: failure, watched };
    this.#measure.holding();
    return undefined;
  }

  /**
   * The request's total deadline passed: while it waited, no upstream was slow and none could
   * take it, so its answer is the hold's 503 naming that deadline, not the deadline's 504; a
   * deadline the client chose stays the client's, saying it passed while the request was held
   * (`tries`: the attempts made). Undefined when it was not waiting. Woken, its try not yet
   * begun (nothing under way: the owner asks only then), it is the hold's still: on a loaded loop
   * the deadline and the scout's wake fall due in one turn, the deadline first, and the woken try
   * finds it passing (it ended as one "passed before the first attempt", after attempts and a wait).
   */
  deadlinePassed(deadline: IdleDeadline, tries: number): Failure | undefined {
    const last = this.#waiting?.last ?? this.#last;
    if (last === undefined) return undefined;
    const name = this.#upstream.name;
    if (deadline.byClient)
      return deadline.passedIdle(`while the request waited for a target of "${name}" (hold)`, last, tries);
    this.cancel();
    return this.#totalPassed(last);
  }

  /**
   * The request's total deadline passed during a try it was woken from its wait for, before that
   * try reached anyone (its connection still being made, not queued behind a full pool): it is
   * the hold's still, and the try's failure, when it comes back to wait(), is answered with the
   * hold's 503 naming that deadline, not a connect timeout of a try begun a moment before (a
   * woken try and the deadline in one turn of a busy process). Not for a request that never
   * waited, nor a deadline the client chose (the attempt's own answer).
   */
  deadlinePassedTrying(
    deadline: IdleDeadline,
    attempt: { reached: string; waitingFor: string | undefined },
  ): void {
    const last = this.#last;
    if (last === undefined || this.#waiting !== undefined || deadline.byClient) return;
    if (attempt.reached === 'not_sent' && attempt.waitingFor !== 'busy')
      this.#deadlineAnswer = this.#totalPassed(last);
  }

  #totalPassed(last: Failure): Failure {
    // One woken that met the full pool waits behind it: the pool's 503, as a queue wait's.
    if (last.type === 'connection_limit_reached') return last;
    return this.#unavailable(
      `no target of "${this.#upstream.name}" took the request within timeouts.total (${this.#total} ms)`,
      last,
    );
  }

  /** The request is over another way (answered, its client gone, its total deadline): it waits no more. */
  cancel(): void {
    const waiting = this.#waiting;
    // Trying again when it ended, its place was kept for it: it goes.
    if (waiting === undefined) return this.#upstream.hold.done(this.#seq);
    this.#upstream.hold.leave(waiting.entry);
    this.#stop();
  }

  /**
   * Another side of the route's split to go to now (hold-elsewhere.ts's upstreamAway), made this
   * request's upstream: its own line in that side's hold, its counts there; or the failure of the
   * stage that says where it may go (its bug: the request's 500).
   */
  #away(refused: boolean): Upstream | Failure | undefined {
    const names = this.#elsewhere?.upstreamsNow(true);
    if (names instanceof Failure) return names;
    const upstream = upstreamAway(this.#req.runtime.upstreams, names, this.#upstream, refused);
    if (upstream === undefined) return undefined;
    // Its place in its side's line, kept while it tried there, goes: it waits in the other's now.
    this.#upstream.hold.done(this.#seq);
    this.#upstream = upstream;
    this.#seq = undefined;
    this.#moved = true;
    this.#measure.moved(upstream.name);
    goesTo(this.#req.record, upstream);
    return upstream;
  }

  /** Another side's target came back: the request leaves its line and wakes (it goes to the side it may go to now). */
  readonly #nudge = (): void => {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    // Kept for it while it tries (wake lets it go if it moves to the other side).
    this.#upstream.hold.leave(waiting.entry, true);
    waiting.entry.wake();
  };

  #stop(): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    this.#waiting = undefined;
    clearTimeout(waiting.timer);
    for (const other of waiting.watched) other.hold.unwatch(this.#nudge);
    this.#heldMs += performance.now() - waiting.since;
    this.#waited = true;
    this.#last = waiting.last;
  }

  #timedOut(hold: HoldConfig, last: Failure): Failure {
    return this.#unavailable(
      `no target of "${this.#upstream.name}" took the request within hold.timeout (${hold.timeout} ms)`,
      last,
    );
  }

  #refused(why: HoldRefusal, hold: HoldConfig, last: Failure): Failure {
    const name = this.#upstream.name;
    const reason =
      why === 'draining'
        ? `no target of "${name}" can take the request, and the gateway is draining: nothing waits`
        : why === 'removed'
          ? `no target of "${name}" can take the request, and a reload removed "${name}" from the config: nothing waits for it`
          : why === 'max_requests'
            ? `no target of "${name}" can take the request, and hold.max_requests (${share(hold.maxRequests, hold.of?.maxRequests)}) wait for one already`
            : `no target of "${name}" can take the request, and its body would take the bodies kept by those waiting past hold.max_body (${share(hold.maxBody, hold.of?.maxBody)} bytes)`;
    return this.#unavailable(reason, last);
  }

  #unavailable(reason: string, last: Failure): Failure {
    return new Failure('destination_unavailable', `${reason}; the last try: ${last.type} (${last.details})`, {
      // A circuit the restart's refusals opened holds no request sent again back for its
      // open_time: that request waits, and its try goes as the circuit's probe at once (with
      // open_time: 60s, a full line answered Retry-After: 60 while the upstream served again
      // as soon as it was back).
      retryAfter: isCircuitRefusal(last) ? 1 : Math.max(1, last.retryAfter ?? 1),
    });
  }
}

/** A bound as this worker holds it: its share of the configured value under `--workers N`. */
function share(bound: number, of: number | undefined): string {
  return of === undefined ? `${bound}` : `${bound} in this worker, its share of ${of}`;
}

/**
 * What a held request's body weighs against `hold.max_body`; undefined: never held, for a body
 * that streams from the client (it can be sent once), or one never read (its client, waiting for
 * 100 Continue, was answered from the head: nothing to send later).
 */
export function heldBytes(sends: Pick<UpstreamRequest, 'body' | 'unread'>): number | undefined {
  if (sends.unread) return undefined;
  const { body } = sends;
  return body.kind === 'none' ? 0 : body.kind === 'buffer' ? body.bytes.length : undefined;
}
