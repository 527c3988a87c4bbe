import type { GatewayConfig } from '../../core/config/types.ts';
import type { Timeline } from '../../observe/events/timeline.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { Runtime } from '../../proxy/session/runtime.ts';
import { CanaryController } from '../canary/canary-controller.ts';
import { timelineStep } from '../canary/canary-event.ts';
import { FleetOfConfig } from '../canary/fleet-of-config.ts';
import { type RuntimeChange, RuntimeChanges } from './runtime-changes.ts';

/** What the controller of a gateway run in-process needs from it. */
export interface InProcessGateway {
  readonly logger: Logger;
  readonly timeline: Timeline;
  /** The config as the program gave it (the one a split change is checked against). */
  config(): GatewayConfig;
  /** The runtime live now: its routes' canary windows. */
  runtime(): Runtime;
  /** Applies a runtime change already checked against `config()`, made by `who`. */
  apply(change: RuntimeChange, who: string): void;
}

/** The controller and what it holds, for the gateway to follow its reloads and to stop. */
export interface InProcessCanaries {
  readonly controller: CanaryController;
  /**
   * The config a reload brought: its canaries, and the fleet they are judged with (opened,
   * kept or closed as a start with it would). Configs are followed in the order given.
   */
  sync(config: GatewayConfig): Promise<void>;
  /** Stops every canary where it is, and the fleet's Redis client. */
  close(): void;
}

/**
 * The canary controller of a gateway run in-process (the library, no primary): the one `candor
 * serve` runs in its primary (canary-controller.ts), here on this process's windows, which every
 * request of the gateway went through (nothing to merge), moving a canary's share with the same
 * split change an operator's PUT /routes/split makes. With `store.redis` and a canary, at start
 * or brought by a reload, the gateway joins the fleet's verdict as a `candor serve` does
 * (canary-fleet.ts, fleet-of-config.ts).
 */
export async function startInProcessCanaries(gateway: InProcessGateway): Promise<InProcessCanaries> {
  const fleets = new FleetOfConfig();
  const controller = new CanaryController({
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
  let closed = false;
  let syncing = Promise.resolve();
  const sync = (config: GatewayConfig): Promise<void> => {
    syncing = syncing
      .then(async () => {
        if (closed) return;
        const fleet = await fleets.follow(config);
        if (closed) return fleets.close();
        controller.sync(config, fleet);
      })
      .catch((err: Error) =>
        gateway.logger.error({ err: err.message }, 'the canaries could not follow the config'),
      );
    return syncing;
  };
  await sync(gateway.config());
  return {
    controller,
    sync,
    close() {
      closed = true;
      controller.close();
      fleets.close();
    },
  };
}
