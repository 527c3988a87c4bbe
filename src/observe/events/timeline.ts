import type { Logger } from '../log/logger.ts';
import { EventRing } from './event-ring.ts';
import type { CanaryEvent, NewEvent, RecordedEvent } from './gateway-event.ts';

/** What the canary controller hands the timeline at each step and verdict. */
export type CanaryStep = Omit<CanaryEvent, 'kind' | 'at'>;

/**
 * One process's deploy timeline: each change is stamped with the time, kept in the ring
 * (GET /events reads it) and written to the log as a line of its own, `"msg":"event"` with
 * the event under `event`, which `candor explain` reads to place a storm after the change that
 * started it. The line is written at `info`: a `log.level` of warn or error leaves it out.
 *
 * @example
 * const timeline = new Timeline(logger);
 * timeline.record({ kind: 'health', upstream: 'api', target: 'http://10.0.0.7:80', state: 'unhealthy' });
 * timeline.canary({ route: 'api', upstream: 'api-next', action: 'step', weight: 25 });
 */
export class Timeline {
  readonly #logger: Logger;
  readonly ring: EventRing;
  readonly #now: () => number;
  #lastId = 0;

  /** `now`: the wall clock (epoch ms), which the events' `at` and `id` are read from. */
  constructor(logger: Logger, ring = new EventRing(), now: () => number = Date.now) {
    this.#logger = logger;
    this.ring = ring;
    this.#now = now;
  }

  record(change: NewEvent): RecordedEvent {
    const now = this.#now();
    // The time in ms × 1000, plus one for each event already in that millisecond: within this
    // process an id never repeats nor goes back, even when the clock is stepped back; a restarted
    // process starts from the clock, so past the ids its predecessor gave unless the clock went
    // back in between. 2^53 holds such ids until the year 2255.
    this.#lastId = Math.max(this.#lastId + 1, now * 1000);
    const event = { ...change, id: this.#lastId, at: new Date(now).toISOString() } as RecordedEvent;
    this.ring.push(event);
    this.#logger.info({ event }, 'event');
    return event;
  }

  /** The canary controller's sink: a step (the canary's share moved) or a verdict. */
  canary(step: CanaryStep): RecordedEvent {
    return this.record({ kind: 'canary', ...step });
  }
}
