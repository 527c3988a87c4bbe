/**
 * What a route's cache folder tells the operator when it takes no more (a full disk, a folder
 * turned read-only or immutable): the answer is served all the same, from memory, and kept there
 * (disk-store.ts), as nginx's proxy_cache serves one uncached and logs `crit`; and when a file
 * of it is not read as an answer (cut, changed, not a file: a miss, fetched anew). The operator
 * hears of each at most once in WRITE_FAILURE_NOTICE_MS however many answers meet the disk, with
 * the route, the folder or file, and the system's word (ENOSPC, EROFS, EPERM) or why; the metric
 * counts every one (how many answers a full disk kept out, not only that it was full).
 */

/** At most one notice of each in this long (spool-space.ts's bound for the spool's own failed writes). */
const WRITE_FAILURE_NOTICE_MS = 60_000;

/**
 * What failed: `write`, an answer not stored; `unread`, a stored file that was no answer whole
 * (cut, changed, not a regular file); `read`, a read the process itself could not make (no file
 * descriptor left, EMFILE or ENFILE): the file is not at fault and is read again later.
 */
export type DiskFailureKind = 'write' | 'unread' | 'read';

/** Where a failed write is told (the gateway's log). */
export interface DiskTell {
  writeFailed(error: Error, dir: string, route: string): void;
  /** A stored file that is not read as an answer (cut, changed, not a file): a miss, fetched anew. */
  notUsed(file: string, why: string, route: string): void;
  /** Each failure, as it comes (the two above are told at most once a minute). */
  counted(kind: DiskFailureKind, route: string): void;
}

/** A route's failed writes, told at most once a minute. */
export class DiskFailures {
  readonly #tell: DiskTell | undefined;
  readonly #dir: string;
  readonly #route: string;
  #toldAt = Number.NEGATIVE_INFINITY;
  #notUsedAt = Number.NEGATIVE_INFINITY;

  constructor(tell: DiskTell | undefined, dir: string, route: string) {
    this.#tell = tell;
    this.#dir = dir;
    this.#route = route;
  }

  /** A write of the route's folder failed: its answer was not stored there. */
  writeFailed(error: Error): void {
    this.#tell?.counted('write', this.#route);
    const now = performance.now();
    if (this.#tell === undefined || now - this.#toldAt < WRITE_FAILURE_NOTICE_MS) return;
    this.#toldAt = now;
    this.#tell.writeFailed(error, this.#dir, this.#route);
  }

  /**
   * A stored file was not one of ours whole, or (`kind` read) could not be read for want of a
   * descriptor (undefined: the read's answer, a miss).
   */
  notUsed(file: string, why: string, kind: 'unread' | 'read' = 'unread'): undefined {
    this.#tell?.counted(kind, this.#route);
    const now = performance.now();
    if (this.#tell === undefined || now - this.#notUsedAt < WRITE_FAILURE_NOTICE_MS) return undefined;
    this.#notUsedAt = now;
    this.#tell.notUsed(file, why, this.#route);
    return undefined;
  }
}
