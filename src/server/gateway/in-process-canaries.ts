import type { GatewayConfig } from '../../core/config/types.ts';
import type { Timeline } from '../../observe/events/timeline.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { Canaries } from '../canary/canaries.ts';
import { timelineStep } from '../canary/canary-event.ts';
import type { LiveRuntime } from './runtime.ts';
import { type RuntimeChange, RuntimeChanges } from './runtime-changes.ts';

/** What the controller of a gateway run in-process needs from it. */
export interface InProcessGateway {
  readonly logger: Logger;
  readonly timeline: Timeline;
  /** The config as the program gave it (the one a split change is checked against). */
  config(): GatewayConfig;
  /** The runtime live now: its routes' canary windows. */
  runtime(): LiveRuntime;
  /** Applies a runtime change already checked against `config()`, made by `who`. */
  apply(change: RuntimeChange, who: string): void;
}

/**
 * The canary controller of a gateway run in-process (the library, no primary): the one `candor
 * serve` runs in its primary (canary-controller.ts), here on this process's windows, which every
 * request of the gateway went through (nothing to merge), moving a canary's share with the same
 * split change an operator's PUT /routes/split makes. With `store.redis` and a canary, at start
 * or brought by a reload, the gateway joins the fleet's verdict as a `candor serve` does
 * (canary-fleet.ts, fleet-of-config.ts). The controller and its statistics load with the first
 * config that has a canary (canaries.ts), as in the primary.
 */
export function inProcessCanaries(gateway: InProcessGateway): Canaries {
  return new Canaries({
    window: async (route) => gateway.runtime().splits.get(route)?.window?.take(),
    async setSides(route, sides, verdict) {
      const change: RuntimeChange = {
        kind: 'split',
        route,
        sides,
        ...(verdict === undefined ? {} : { verdict }),
      };
      // A reload may have taken the route away while a step was being judged.
      const problem = RuntimeChanges.check(change, gateway.config());
      if (problem !== undefined) throw new Error(`${problem.field}: ${problem.detail}`);
      const who = `canary of ${route}`;
      gateway.apply(change, who);
      gateway.logger.info({ who, change }, 'admin change');
    },
    logger: gateway.logger,
    // Each step and action on this gateway's deploy timeline, as the primary's are on its own.
    onEvent: (event) => {
      const step = timelineStep(event);
      if (step !== undefined) gateway.timeline.canary(step);
    },
  });
}
