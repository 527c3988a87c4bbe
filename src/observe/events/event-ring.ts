import type { RecordedEvent } from './gateway-event.ts';

/** Events a ring keeps: the newest win (a gateway makes a few a minute when it is busy changing). */
export const EVENTS_KEPT = 1000;

/**
 * The latest events of one process, oldest first, at most `size`: a bounded ring, so a
 * gateway whose targets flap every second keeps its last thousand changes and no more.
 */
export class EventRing {
  readonly #size: number;
  readonly #events: RecordedEvent[] = [];
  /** Where the oldest event is once the ring is full. */
  #start = 0;

  constructor(size = EVENTS_KEPT) {
    this.#size = size;
  }

  push(event: RecordedEvent): void {
    if (this.#events.length < this.#size) this.#events.push(event);
    else {
      this.#events[this.#start] = event;
      this.#start = (this.#start + 1) % this.#size;
    }
  }

  /**
   * The events kept, oldest first; with `since` (epoch ms), only those made after it; with
   * `after` (an event's id), only those recorded after that one.
   */
  list(since?: number, after?: number): RecordedEvent[] {
    const ordered = [...this.#events.slice(this.#start), ...this.#events.slice(0, this.#start)];
    return ordered.filter(
      (e) => (since === undefined || Date.parse(e.at) > since) && (after === undefined || e.id > after),
    );
  }
}

/**
 * Several processes' events as one timeline: by time, then by id (the order they were recorded
 * in, where a millisecond holds several), oldest first, the newest `size` kept.
 */
export function mergeEvents(
  lists: readonly (readonly RecordedEvent[])[],
  size = EVENTS_KEPT,
): RecordedEvent[] {
  const all = lists.flat();
  all.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.id - b.id);
  return all.slice(-size);
}
