import type { GatewayConfig, UpstreamConfig } from '../../core/config/types.ts';

/**
 * Which returns of a `candor serve --workers N` are counted: one per ejection. An ejection is
 * counted by the worker that made it and told to the others (through the primary); every worker
 * then ends it on its own, by a request's success or a health check's verdict, so N workers
 * end one ejection N times. The primary sees every ejection go by and every return come in,
 * and lets each ejection's first return be counted: `candor_target_returns_total` then never
 * exceeds `candor_target_ejections_total`, and their difference is what is still out.
 *
 * Two workers that eject a target at once count two ejections, and the first two returns are
 * counted. A worker that is told of an ejection while the target is out already in its own
 * rotation, or that keeps it in (its `max_ejected_percent`), has nothing to end.
 */
export class EjectionReturns {
  /** Ejections not yet ended anywhere, by `upstream origin`. */
  readonly #out = new Map<string, { readonly upstream: string; readonly origin: string; count: number }>();

  /** Targets with an ejection not yet ended. */
  get size(): number {
    return this.#out.size;
  }

  /** A worker ejected the target (its announcement, on the way to the others). */
  ejected(upstream: string, origin: string): void {
    const key = keyOf(upstream, origin);
    const out = this.#out.get(key);
    if (out === undefined) this.#out.set(key, { upstream, origin, count: 1 });
    else out.count++;
  }

  /**
   * A reload or a DNS answer (`before` and `after` with their discovered targets): the ejections
   * the workers' rebuild starts afresh (a target no longer named, an upstream gone or of another
   * protocol) will be ended by none of them, and are forgotten. Kept, each was held for good (one
   * a target that left while ejected: a discovered upstream's every pod that died failing), and a
   * target back at the same origin (a pod's address given to the next) had its next ejection's
   * returns counted as the old one's too, past its ejections.
   */
  reloaded(before: GatewayConfig, after: GatewayConfig): void {
    for (const [key, { upstream, origin }] of this.#out) {
      const [was, is] = [before.upstreams[upstream], after.upstreams[upstream]];
      if (was === undefined || is === undefined || was.protocol !== is.protocol || !names(is, origin))
        this.#out.delete(key);
    }
  }

  /** A worker ended an ejection of the target: whether it is the first end of one, to be counted. */
  returned(upstream: string, origin: string): boolean {
    const key = keyOf(upstream, origin);
    const out = this.#out.get(key);
    if (out === undefined) return false;
    if (out.count === 1) this.#out.delete(key);
    else out.count--;
    return true;
  }
}

function names(upstream: UpstreamConfig, origin: string): boolean {
  return upstream.targets.some((t) => t.origin === origin);
}

function keyOf(upstream: string, origin: string): string {
  return `${upstream} ${origin}`;
}
