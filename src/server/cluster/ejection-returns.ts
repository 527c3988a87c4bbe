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
  readonly #out = new Map<string, number>();

  /** A worker ejected the target (its announcement, on the way to the others). */
  ejected(upstream: string, origin: string): void {
    const key = keyOf(upstream, origin);
    this.#out.set(key, (this.#out.get(key) ?? 0) + 1);
  }

  /** A worker ended an ejection of the target: whether it is the first end of one, to be counted. */
  returned(upstream: string, origin: string): boolean {
    const key = keyOf(upstream, origin);
    const out = this.#out.get(key) ?? 0;
    if (out === 0) return false;
    if (out === 1) this.#out.delete(key);
    else this.#out.set(key, out - 1);
    return true;
  }
}

function keyOf(upstream: string, origin: string): string {
  return `${upstream} ${origin}`;
}
