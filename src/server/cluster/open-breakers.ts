import type { GatewayConfig, UpstreamConfig } from '../../core/config/types.ts';
import type { FailureType } from '../../core/failure/taxonomy.ts';
import type { Announcement } from '../../upstream/health/report-outcome.ts';

/**
 * The circuits open and the targets ejected in a `candor serve --workers N`, as the workers told
 * the primary (gateway-wide.ts relays each to the others): a worker forked later (a restart after
 * a crash) starts on them, for the time each has left, as it starts on the health verdicts. The
 * primary only relayed them, and a replacement started with every circuit closed and every target
 * in rotation: its requests went to an upstream the gateway had cut off until it found out alone.
 *
 * Deadlines are kept on the primary's clock and sent as the ms left (shared-protocol.ts). A reload
 * forgets what a worker's own rebuild forgets (createUpstream): a circuit whose upstream is gone,
 * changed its protocol or kept none of its targets; an ejection whose target is no longer named.
 */
export class OpenBreakers {
  /** Open circuits: the primary's time each closes, and the failure that opened it (when told), by upstream. */
  readonly #circuits = new Map<
    string,
    { until: number; failure?: { type: FailureType; origin: string; at: number } }
  >();
  /** Ejections not yet ended by any worker, by `upstream origin`. */
  readonly #ejections = new Map<
    string,
    { upstream: string; origin: string; until: number; ejections: number }
  >();

  /** A worker's news, on its way to the others. */
  heard(news: Announcement, now: number): void {
    if (news.candor === 'circuit-closed') this.#circuits.delete(news.upstream);
    else if (news.candor === 'circuit-opened') {
      const was = this.#circuits.get(news.upstream);
      const told = news.failure;
      this.#circuits.set(news.upstream, {
        until: Math.max(now + news.forMs, was?.until ?? 0),
        // The failure a worker starting now names in its 503s, as the opener does.
        failure:
          told === undefined ? was?.failure : { type: told.type, origin: told.origin, at: now - told.ageMs },
      });
    } else
      this.#ejections.set(keyOf(news.upstream, news.origin), {
        upstream: news.upstream,
        origin: news.origin,
        until: now + news.forMs,
        ejections: news.ejections,
      });
  }

  /** A worker ended the target's ejection (back in rotation there): a worker starting now need not wait it out. */
  returned(upstream: string, origin: string): void {
    this.#ejections.delete(keyOf(upstream, origin));
  }

  /** A reload: what the workers' rebuild starts afresh is forgotten (`before` and `after` with their discovered targets). */
  reloaded(before: GatewayConfig, after: GatewayConfig): void {
    for (const upstream of this.#circuits.keys()) {
      const [was, is] = [before.upstreams[upstream], after.upstreams[upstream]];
      if (was === undefined || is === undefined || !keepsATarget(was, is)) this.#circuits.delete(upstream);
    }
    for (const [key, { upstream, origin }] of this.#ejections) {
      const [was, is] = [before.upstreams[upstream], after.upstreams[upstream]];
      if (was === undefined || is === undefined || was.protocol !== is.protocol || !names(is, origin))
        this.#ejections.delete(key);
    }
  }

  /**
   * What a worker starting now is told: each open circuit and ejection with the ms it has left. One
   * whose time ran out with no probe since (no worker told of a close or a return) is half-open in
   * the workers: told with 0 ms left, the new worker starts half-open too, its next request the
   * probe. Forgotten once over, a replacement started it closed (or the target in rotation) while
   * the others were half-open, and sent a dead upstream `consecutive_failures` requests, each a 502.
   */
  now(now: number): Announcement[] {
    const news: Announcement[] = [];
    for (const [upstream, { until, failure }] of this.#circuits)
      news.push({
        candor: 'circuit-opened',
        upstream,
        forMs: Math.max(0, until - now),
        ...(failure === undefined
          ? {}
          : { failure: { type: failure.type, origin: failure.origin, ageMs: now - failure.at } }),
      });
    for (const { upstream, origin, until, ejections } of this.#ejections.values())
      news.push({ candor: 'ejected', upstream, origin, forMs: Math.max(0, until - now), ejections });
    return news;
  }
}

/** The worker's rebuild keeps an upstream's circuit when it keeps one of its targets (same origin, same protocol). */
function keepsATarget(before: UpstreamConfig, after: UpstreamConfig): boolean {
  return before.protocol === after.protocol && after.targets.some((t) => names(before, t.origin));
}

function names(upstream: UpstreamConfig, origin: string): boolean {
  return upstream.targets.some((t) => t.origin === origin);
}

function keyOf(upstream: string, origin: string): string {
  return `${upstream} ${origin}`;
}
