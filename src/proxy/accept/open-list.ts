/**
 * What a server holds open, for its drain and the drain's deadline: the HTTP/1.1 server's
 * connections (http1-server.ts), the HTTP/2 server's responses not yet over (h2-server.ts's
 * destroyAll). Each member comes in as it opens and leaves as it closes: a list where each
 * member knows its slot (the last one moved into a slot left), not a Set. A Set made each
 * member's identity hash, then hashed it in and out of a table grown and shrunk with the
 * members: about 0.6 % of the worker's CPU at 4 × 100 HTTP/2 streams (bench/h2.ts under perf),
 * some 0.1 µs and 40 bytes a connection with a new connection per request (wrk under perf, its
 * hash lookups and the hash made), where this costs a push and a pop.
 */

/** A member: its slot in the list, -1 when it is in none (the list alone writes it). */
export interface OpenSlot {
  openSlot: number;
}

export class OpenList<T extends OpenSlot> {
  readonly #members: T[] = [];

  get size(): number {
    return this.#members.length;
  }

  add(member: T): void {
    member.openSlot = this.#members.length;
    this.#members.push(member);
  }

  /** Takes `member` out (nothing if it is not in): the last member takes its slot. */
  delete(member: T): void {
    const slot = member.openSlot;
    if (slot < 0 || this.#members[slot] !== member) return;
    member.openSlot = -1;
    const last = this.#members.pop() as T;
    if (last === member) return;
    this.#members[slot] = last;
    last.openSlot = slot;
  }

  /** The members now, to be read before any leaves (one that may leave as it is told: a copy of them). */
  values(): readonly T[] {
    return this.#members;
  }
}
