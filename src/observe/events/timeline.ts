import type { Logger } from '../log/logger.ts';
import { EventRing } from './event-ring.ts';
import type { CanaryEvent, GatewayEvent, NewEvent } from './gateway-event.ts';

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

  constructor(logger: Logger, ring = new EventRing()) {
    this.#logger = logger;
    this.ring = ring;
  }

  record(change: NewEvent): GatewayEvent {
    const event = { ...change, at: new Date().toISOString() } as GatewayEvent;
    this.ring.push(event);
    this.#logger.info({ event }, 'event');
    return event;
  }

  /** The canary controller's sink: a step (the canary's share moved) or a verdict. */
  canary(step: CanaryStep): GatewayEvent {
    return this.record({ kind: 'canary', ...step });
  }
}
