/**
 * A server's HTTP/2 responses not yet over, for its drain deadline to mark before it cuts them
 * (h2-server.ts's destroyAll). Each stream's answer comes in as its stream is handed over and
 * leaves as it closes: a list where each member knows its slot (the last one moved into a slot
 * left), not a Set. A Set made each answer's identity hash, then hashed it in and out of a table
 * grown and shrunk with the streams in flight: about 0.6 % of the worker's CPU at 4 × 100
 * streams (bench/h2.ts under perf), where this costs a push and a pop.
 */

/** A member: its slot in the list, -1 when it is in none (the list alone writes it). */
export interface OpenSlot {
  openSlot: number;
}

export class OpenAnswers<T extends OpenSlot> {
  readonly #members: T[] = [];

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

  /** The members now, to be read before any leaves. */
  values(): readonly T[] {
    return this.#members;
  }
}
