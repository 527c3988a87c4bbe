import type { GatewayConfig, RedisStoreConfig } from '../../core/config/types.ts';
import type { CanaryFleet } from './canary-fleet.ts';

/**
 * The fleet a config's canaries are judged with, followed from config to config: open while the
 * config has a canary and `store.redis`, the same client while that store stays, a new one when
 * it changes, closed when the last canary or the store goes. So a reload that adds, changes or
 * removes a canary leaves the gateway as a start with the new config would (a canary added by a
 * reload was judged on this gateway's counts alone before). ioredis is loaded with the first
 * fleet only. Its caller follows one config at a time (each call awaited before the next).
 */
export class FleetOfConfig {
  #fleet: CanaryFleet | undefined;
  /** The store the fleet is on: its prefix and URL. */
  #store: string | undefined;

  /** The fleet for `config` (undefined: none), opened or closed as it needs. */
  async follow(config: GatewayConfig): Promise<CanaryFleet | undefined> {
    const wanted = fleetStore(config);
    // What the fleet uses of the store: another timeout (the rate limits') keeps the fleet.
    const store = wanted === undefined ? undefined : `${wanted.prefix} ${wanted.url}`;
    if (store === this.#store) return this.#fleet;
    this.close();
    if (wanted === undefined) return undefined;
    const { CanaryFleet } = await import('./canary-fleet.ts');
    const fleet = await CanaryFleet.open(wanted);
    this.#fleet = fleet;
    this.#store = store;
    return fleet;
  }

  close(): void {
    this.#fleet?.close();
    this.#fleet = undefined;
    this.#store = undefined;
  }
}

/** The Redis a config's canaries share their counts on: only a config with a canary needs one. */
function fleetStore(config: GatewayConfig): RedisStoreConfig | undefined {
  return config.store !== undefined && config.routes.some((r) => r.canary !== undefined)
    ? config.store.redis
    : undefined;
}
