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
/** A learned limit lasts this long: then forgotten, so that an upstream whose idle timeout grew is kept as long again. */
const LEARNED_FOR_MS = 5 * 60_000;

/**
 * An upstream's idle timeout learned from the connections it closes while they are idle, for
 * one that does not say it (no `Keep-Alive: timeout=N`, as uvicorn, gunicorn, Tomcat and Puma
 * send none, with idle timeouts of 2 to 20 s, under the pool's 30 s). Each such close is a race
 * the gateway can lose: a request written on the connection at that moment is lost, and one
 * that is not idempotent is a 502 no retry may fix. Learned once two closes agree (the shorter
 * idle at least AGREE of the longer) at moments apart: one restart closing every connection at
 * once teaches nothing. The limit is then the shorter idle less a quarter (at most
 * HINT_MARGIN_MS), the margin a hint gets, for five minutes; the pool's idle_timeout otherwise.
 */
export class IdleCloseLearning {
  /** The idle close heard last, waiting for one that agrees: how long idle, and when (performance.now()). */
  #heard: { idleMs: number; at: number } | undefined;
  /** The limit learned, and until when it holds. */
  #limitMs = Number.POSITIVE_INFINITY;
  #until = 0;

  /** The longest an idle connection is kept now, past which the upstream is known to close it; Infinity: nothing learned. */
  limit(now: number): number {
    return now < this.#until ? this.#limitMs : Number.POSITIVE_INFINITY;
  }

  /** The same, reading the clock only when something was learned (a pool parks a connection a request). */
  limitNow(): number {
    return this.#until === 0 ? Number.POSITIVE_INFINITY : this.limit(performance.now());
  }

  /**
   * The upstream closed a connection that was idle `idleMs` (its FIN, no request out): the
   * limit it teaches and the idle it is learned from (the shorter of the two closes), when this
   * close agrees with the one before and shortens what is kept (`keptMs`: the pool's
   * idle_timeout); undefined when it teaches nothing new.
   */
  heard(idleMs: number, keptMs: number, now: number): { idleMs: number; limitMs: number } | undefined {
    const before = this.#heard;
    this.#heard = { idleMs, at: now };
    if (before === undefined || now - before.at < ONE_EVENT_MS) return undefined;
    const [shorter, longer] = idleMs < before.idleMs ? [idleMs, before.idleMs] : [before.idleMs, idleMs];
    if (shorter < AGREE * longer) return undefined;
    const limit = Math.max(0, shorter - Math.min(HINT_MARGIN_MS, shorter / 4));
    const current = this.limit(now);
    if (limit >= Math.min(current, keptMs)) return undefined;
    this.#limitMs = limit;
    this.#until = now + LEARNED_FOR_MS;
    return { idleMs: shorter, limitMs: limit };
  }
}
