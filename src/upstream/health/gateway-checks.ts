import type { GatewayConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { AdminTargetState } from '../targets/target-state.ts';
import { createUpstream, type Upstream } from '../targets/upstream.ts';
import {
  type ActiveChecks,
  type HealthMetrics,
  type HealthVerdict,
  startActiveChecks,
} from './active-checks.ts';
import { type OnTransition, tellingTransitions } from './transitions.ts';

/** Hands verdicts to every worker; `probe`: they come from a probe that just ended (not a snapshot). */
type Publish = (verdicts: HealthVerdict[], probe: boolean) => void;

/** The primary keeps no metrics registry: the counts are made by a worker (see applyVerdict). */
const UNCOUNTED = { healthChecked() {}, healthTransition() {}, returned() {} };

/**
 * The active health checks of a whole `candor serve`, run once by the cluster primary: with
 * a loop per worker, every target would see N probes per interval and each worker would
 * find a dead target on its own. The primary builds from the config what probing needs (the
 * targets and each upstream's connector; a pool is made but never used) and judges as a
 * single gateway would (fall, rise, panic, one log line per transition); every probe's
 * outcome goes to `publish`, which hands it to every worker.
 */
export class GatewayChecks {
  readonly #logger: Logger;
  readonly #publish: Publish;
  /** What the checks count (UNCOUNTED, or the counts kept while no worker serves), each transition told once, for the timeline. */
  readonly #counts: HealthMetrics;
  #upstreams = new Map<string, Upstream>();
  readonly #checks = new Map<string, ActiveChecks>();

  constructor(
    config: GatewayConfig,
    logger: Logger,
    publish: Publish,
    onTransition: OnTransition = () => {},
    /** What the primary counts itself: the probes no worker serves yet to count (gateway-wide.ts). */
    counts: HealthMetrics = UNCOUNTED,
  ) {
    this.#logger = logger;
    this.#publish = publish;
    this.#counts = tellingTransitions(counts, () => this.#upstreams, onTransition);
    this.update(config);
  }

  /**
   * The config in force changed (a reload): targets still named, matched by origin as
   * createRuntime matches them, keep their verdicts and their counts in a row; every worker
   * gets the whole picture again, since a target without checks any more is back in rotation.
   */
  update(config: GatewayConfig): void {
    const upstreams = new Map<string, Upstream>();
    for (const [name, upstream] of Object.entries(config.upstreams))
      upstreams.set(name, createUpstream(upstream, this.#upstreams.get(name)));
    for (const [name, upstream] of upstreams) {
      const running = this.#checks.get(name);
      if (running) running.update(upstream);
      else
        this.#checks.set(
          name,
          startActiveChecks(upstream, this.#logger, this.#counts, (u, target, result) =>
            this.#publish(
              [
                {
                  upstream: u.name,
                  origin: target.config.origin,
                  healthy: target.checkedHealthy,
                  result,
                  ageMs: 0,
                },
              ],
              true,
            ),
          ),
        );
    }
    for (const [name, old] of this.#upstreams) {
      if (upstreams.has(name)) continue;
      void this.#checks.get(name)?.stop();
      this.#checks.delete(name);
      void old.close();
    }
    this.#upstreams = upstreams;
    this.#publish(this.verdicts(), false);
  }

  /** Every target's verdict now: what a worker started later is sent with its snapshot. */
  verdicts(): HealthVerdict[] {
    const verdicts: HealthVerdict[] = [];
    for (const upstream of this.#upstreams.values())
      for (const target of upstream.targets) {
        const result = target.lastProbe;
        verdicts.push({
          upstream: upstream.name,
          origin: target.config.origin,
          healthy: target.checkedHealthy,
          ...(result === undefined ? {} : { result, ageMs: Math.max(0, performance.now() - result.at) }),
        });
      }
    return verdicts;
  }

  /** The admin API's changes in force: a disabled target is not probed (as in a worker's own checks). */
  applyChanges(changes: {
    target(upstream: string, origin: string): { state?: AdminTargetState; weight?: number } | undefined;
  }): void {
    for (const upstream of this.#upstreams.values())
      for (const target of upstream.targets) {
        const set = changes.target(upstream.name, target.config.origin);
        target.admin = set?.state ?? 'enabled';
        target.adminWeight = set?.weight;
      }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#checks.values()].map((c) => c.stop()));
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
  }
}
