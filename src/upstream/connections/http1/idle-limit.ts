import { performance } from 'node:perf_hooks'; // not the global's lazy accessor: moving-deadline.ts

/**
 * How long an idle connection to an HTTP/1.1 upstream may be kept for its next request: the
 * pool's idle_timeout, or less when the upstream said it closes sooner (`Keep-Alive: timeout=N`)
 * or was found to (IdleCloseLearning).
 * A request written as the upstream closes the connection is lost, and a POST cannot be
 * retried (502 not_idempotent): the gateway must let go of the connection first.
 */

/**
 * Taken off the upstream's N seconds. The upstream's clock starts as it finishes writing its
 * answer; ours when the answer has been read, and a request we send reaches it another half
 * round trip later: the margin covers a round trip (even between continents, some 300 ms), a
 * busy event loop between taking the connection and writing on it, and timer slop, with room
 * to spare. N is a floor (Node says `floor(keepAliveTimeout / 1000)`, Apache truncates a
 * millisecond timeout to seconds), so the upstream's close comes at N s or later. One second,
 * not two: two would keep nothing from the common `timeout=2`, and an idle connection past its
 * limit is never handed out however late its timer fires (the pool checks at take time).
 */
export const HINT_MARGIN_MS = 1000;

/**
 * Milliseconds an idle connection may be kept after a response whose hint was `hintSeconds`
 * (-1: none, the pool's `idleTimeout` stands). 0 (a hint of the margin or less, `timeout=0`
 * included): not kept at all, closed after its response.
 */
export function idleLimit(idleTimeout: number, hintSeconds: number): number {
  if (hintSeconds < 0) return idleTimeout;
  return Math.max(0, Math.min(idleTimeout, hintSeconds * 1000 - HINT_MARGIN_MS));
}

/** Two idle closes heard this close in time are one event (a restart closing every connection at once), not a habit. */
const ONE_EVENT_MS = 50;
/** Two idle closes agree when the shorter idle is at least this share of the longer. */
const AGREE = 0.75;
/**
 * An idle close shorter than this teaches nothing: no server's idle timeout is that short (the
 * quick ones are gunicorn's 2 s and uvicorn's 5 s), while a connection an upstream ends soon
 * after its response for another reason (a cap on its requests, a worker recycled, a restart)
 * would teach a limit that turns keep-alive off.
 */
const SHORTEST_IDLE_MS = 1000;
/** A learned limit, and a close waiting for one to agree with it, last this long: then forgotten, so that an upstream whose idle timeout grew is kept as long again. */
const LEARNED_FOR_MS = 5 * 60_000;

/** What a close taught: the idle it is learned from (the shorter of the two that agree), the limit, and whether that is news to say (first learned, or moved by more than a quarter). */
export interface IdleLesson {
  readonly idleMs: number;
  readonly limitMs: number;
  readonly news: boolean;
}

/**
 * An upstream's idle timeout learned from the connections it closes while they are idle, for
 * one that does not say it (no `Keep-Alive: timeout=N`, as uvicorn, gunicorn, Tomcat and Puma
 * send none, with idle timeouts of 2 to 20 s, under the pool's 30 s). Each such close is a race
 * the gateway can lose: a request written on the connection at that moment is lost, and one
 * that is not idempotent is a 502 no retry may fix. Learned once two closes of at least
 * SHORTEST_IDLE_MS agree (the shorter idle at least AGREE of the longer) at moments apart: one
 * restart closing every connection at once teaches nothing. The limit is then the shorter idle
 * less a quarter (at most HINT_MARGIN_MS), the margin a hint gets, for five minutes; the pool's
 * idle_timeout otherwise.
 */
export class IdleCloseLearning {
  /** The idle close heard last, waiting for one that agrees: how long idle, and when (performance.now()). */
  #heard: { idleMs: number; at: number } | undefined;
  /** The limit learned, and until when it holds (0: nothing holds). */
  #limitMs = Number.POSITIVE_INFINITY;
  #until = 0;
  /** The limit last said (IdleLesson.news). */
  #said: number | undefined;

  /** The longest an idle connection is kept now, past which the upstream is known to close it; Infinity: nothing learned. */
  limit(now: number): number {
    if (now < this.#until) return this.#limitMs;
    this.#until = 0;
    return Number.POSITIVE_INFINITY;
  }

  /** The same, reading the clock only while something learned holds (a pool parks a connection a request). */
  limitNow(): number {
    return this.#until === 0 ? Number.POSITIVE_INFINITY : this.limit(performance.now());
  }

  /**
   * The upstream closed a connection that was idle `idleMs` (its FIN, no request out): what it
   * teaches, when this close agrees with the one before and shortens what is kept (`keptMs`: the
   * pool's idle_timeout); undefined when it teaches nothing new.
   */
  heard(idleMs: number, keptMs: number, now: number): IdleLesson | undefined {
    if (idleMs < SHORTEST_IDLE_MS) return undefined;
    const before = this.#heard;
    this.#heard = { idleMs, at: now };
    if (before === undefined || now - before.at < ONE_EVENT_MS || now - before.at > LEARNED_FOR_MS)
      return undefined;
    const [shorter, longer] = idleMs < before.idleMs ? [idleMs, before.idleMs] : [before.idleMs, idleMs];
    if (shorter < AGREE * longer) return undefined;
    const limit = shorter - Math.min(HINT_MARGIN_MS, shorter / 4);
    if (limit >= Math.min(this.limit(now), keptMs)) return undefined;
    this.#limitMs = limit;
    this.#until = now + LEARNED_FOR_MS;
    const said = this.#said;
    const news = said === undefined || Math.abs(limit - said) > said / 4;
    if (news) this.#said = limit;
    return { idleMs: shorter, limitMs: limit, news };
  }
}
