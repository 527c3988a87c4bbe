import type { GatewayEvent } from './gateway-event.ts';

/** Events a ring keeps: the newest win (a gateway makes a few a minute when it is busy changing). */
export const EVENTS_KEPT = 1000;

/**
 * The latest events of one process, oldest first, at most `size`: a bounded ring, so a
 * gateway whose targets flap every second keeps its last thousand changes and no more.
 */
export class EventRing {
  readonly #size: number;
  readonly #events: GatewayEvent[] = [];
  /** Where the oldest event is once the ring is full. */
  #start = 0;

  constructor(size = EVENTS_KEPT) {
    this.#size = size;
  }

  push(event: GatewayEvent): void {
    if (this.#events.length < this.#size) this.#events.push(event);
    else {
      this.#events[this.#start] = event;
      this.#start = (this.#start + 1) % this.#size;
    }
  }

  /** The events kept, oldest first; with `since` (epoch ms), only those made after it. */
  list(since?: number): GatewayEvent[] {
    const ordered = [...this.#events.slice(this.#start), ...this.#events.slice(0, this.#start)];
    return since === undefined ? ordered : ordered.filter((e) => Date.parse(e.at) > since);
  }
}

/**
 * Several processes' events as one timeline: by time, oldest first, the newest `size` kept.
 * The sort is stable, so events of one process made in the same millisecond keep their order.
 */
export function mergeEvents(lists: readonly (readonly GatewayEvent[])[], size = EVENTS_KEPT): GatewayEvent[] {
  const all = lists.flat();
  all.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return all.slice(-size);
}
