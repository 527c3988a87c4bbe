import type { GatewayConfig, SplitSide } from '../../core/config/types.ts';
import type { ByHand, CanaryController, CanaryHost, CanaryStatus } from './canary-controller.ts';
import type { FleetOfConfig } from './fleet-of-config.ts';
import type { OperatorWord } from './operator-actions.ts';

/**
 * A gateway's canaries (the cluster primary's, or an in-process gateway's: in-process-canaries.ts): the controller (its judge and statistics) is loaded and made by the
 * first config that has a canary, at start or by a reload; a primary whose config has none
 * never holds it. Until then every route answers as one without a canary does. With
 * `store.redis` the fleet follows each config as the canaries do (fleet-of-config.ts).
 */
export class Canaries {
  readonly #host: CanaryHost;
  #controller: CanaryController | undefined;
  /** The fleet each config's canaries are judged with; made with the controller. */
  #fleets: FleetOfConfig | undefined;
  /** Each config in turn, the controller loaded first when one needs it. */
  #syncing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(host: CanaryHost) {
    this.#host = host;
  }

  /**
   * The config in force (once every worker serves, and after each reload): see
   * CanaryController.sync. Configs are followed in the order given; resolves once this one is.
   */
  sync(config: GatewayConfig): Promise<void> {
    this.#syncing = this.#syncing
      .then(async () => {
        if (this.#controller === undefined || this.#fleets === undefined) {
          if (!config.routes.some((r) => r.canary !== undefined)) return;
          const [{ CanaryController }, { FleetOfConfig }] = await Promise.all([
            import('./canary-controller.ts'),
            import('./fleet-of-config.ts'),
          ]);
          if (this.#closed) return;
          this.#controller ??= new CanaryController(this.#host);
          this.#fleets ??= new FleetOfConfig();
        }
        const fleet = await this.#fleets.follow(config);
        if (this.#closed) return this.#fleets.close();
        this.#controller.sync(config, fleet);
      })
      .catch((err: Error) =>
        this.#host.logger.error({ err: err.message }, 'the canaries could not follow the config'),
      );
    return this.#syncing;
  }

  status(): CanaryStatus[] {
    return this.#controller?.status() ?? [];
  }

  async act(
    route: string,
    action: OperatorWord,
    who: string,
  ): Promise<{ problem: string } | { status: CanaryStatus }> {
    await this.#syncing;
    return this.#controller?.act(route, action, who) ?? { problem: `route "${route}" has no canary` };
  }

  /** A canary route's sides weighed by hand: see CanaryController.byHand. */
  async byHand(route: string, sides: readonly SplitSide[], who: string): Promise<ByHand | undefined> {
    await this.#syncing;
    return this.#controller?.byHand(route, sides, who);
  }

  /** Stops every canary where it is, and the fleet's Redis client. */
  close(): void {
    this.#closed = true;
    this.#controller?.close();
    this.#fleets?.close();
  }
}
