/**
 * What a route's cache folder tells the operator when it takes no more (a full disk, a folder
 * turned read-only or immutable): the answer is served all the same, from memory, and kept there
 * (disk-store.ts), as nginx's proxy_cache serves one uncached and logs `crit`; the operator hears
 * of it, at most once in WRITE_FAILURE_NOTICE_MS however many answers meet the disk, with the
 * route, the folder and the system's word (ENOSPC, EROFS, EPERM).
 */

/** At most one notice in this long (spool-space.ts's bound for the spool's own failed writes). */
const WRITE_FAILURE_NOTICE_MS = 60_000;

/** Where a failed write is told (the gateway's log). */
export interface DiskTell {
  writeFailed(error: Error, dir: string, route: string): void;
}

/** A route's failed writes, told at most once a minute. */
export class DiskFailures {
  readonly #tell: DiskTell | undefined;
  readonly #dir: string;
  readonly #route: string;
  #toldAt = Number.NEGATIVE_INFINITY;

  constructor(tell: DiskTell | undefined, dir: string, route: string) {
    this.#tell = tell;
    this.#dir = dir;
    this.#route = route;
  }

  /** A write of the route's folder failed: its answer was not stored there. */
  writeFailed(error: Error): void {
    const now = performance.now();
    if (this.#tell === undefined || now - this.#toldAt < WRITE_FAILURE_NOTICE_MS) return;
    this.#toldAt = now;
    this.#tell.writeFailed(error, this.#dir, this.#route);
  }
}
