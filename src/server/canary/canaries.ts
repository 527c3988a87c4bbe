import type { GatewayConfig } from '../../core/config/types.ts';
import type { CanaryController, CanaryHost, CanaryStatus } from './canary-controller.ts';
import type { OperatorWord } from './operator-actions.ts';

/**
 * The primary's canaries: the controller (its judge and statistics) is loaded and made by the
 * first config that has a canary, at start or by a reload; a primary whose config has none
 * never holds it. Until then every route answers as one without a canary does.
 */
export class Canaries {
  readonly #host: CanaryHost;
  #controller: CanaryController | undefined;
  /** Each config in turn, the controller loaded first when one needs it. */
  #syncing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(host: CanaryHost) {
    this.#host = host;
  }

  /** The config in force (once every worker serves, and after each reload): see CanaryController.sync. */
  sync(config: GatewayConfig): void {
    this.#syncing = this.#syncing
      .then(async () => {
        if (this.#controller === undefined) {
          if (!config.routes.some((r) => r.canary !== undefined)) return;
          const { CanaryController } = await import('./canary-controller.ts');
          if (this.#closed) return;
          this.#controller ??= new CanaryController(this.#host);
        }
        if (!this.#closed) this.#controller.sync(config);
      })
      .catch((err: Error) =>
        this.#host.logger.error({ err: err.message }, 'the canaries could not follow the config'),
      );
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

  close(): void {
    this.#closed = true;
    this.#controller?.close();
  }
}
