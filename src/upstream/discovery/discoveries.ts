import type { GatewayConfig, UpstreamConfig } from '../../core/config/types.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { type DiscoveryReport, DnsDiscovery, type OnDiscovery } from './dns-discovery.ts';
import { gatewayListeners } from './refused-targets.ts';

/**
 * The DNS discovery of every upstream that has one, for one gateway: an in-process gateway
 * runs it itself, a cluster's primary runs it once for all its workers (as it runs the
 * health checks) and sends them each report. A reload keeps the runner of an upstream whose
 * `discovery` did not change; a changed one starts again from the last good set.
 */
export class Discoveries {
  readonly #logger: Logger;
  readonly #onReport: OnDiscovery;
  #runners = new Map<string, DnsDiscovery>();
  /** The listeners the runners refuse as targets: a reload that moves the admin API starts them again. */
  #own = '';

  constructor(config: GatewayConfig, logger: Logger, onReport: OnDiscovery) {
    this.#logger = logger;
    this.#onReport = onReport;
    this.update(config);
  }

  update(config: GatewayConfig): void {
    const next = new Map<string, DnsDiscovery>();
    const own = gatewayListeners(config);
    const ownMoved = JSON.stringify(own) !== this.#own;
    this.#own = JSON.stringify(own);
    for (const [name, upstream] of Object.entries(config.upstreams)) {
      const wanted = upstream.discovery;
      if (wanted === undefined) continue;
      const old = this.#runners.get(name);
      if (old && !ownMoved && JSON.stringify(old.config) === JSON.stringify(wanted)) {
        next.set(name, old);
        continue;
      }
      old?.stop();
      // The old runner's failures are the new one's only if it asked the same name.
      const sameName = old !== undefined && old.config.dns === wanted.dns && old.config.type === wanted.type;
      const keptFailures = sameName ? old.failedInARow : undefined;
      next.set(
        name,
        new DnsDiscovery(name, wanted, this.#logger, this.#onReport, own, old?.report, keptFailures),
      );
    }
    for (const [name, old] of this.#runners) if (!next.has(name)) old.stop();
    this.#runners = next;
  }

  reports(): DiscoveryReport[] {
    return [...this.#runners.values()].map((r) => r.report);
  }

  stop(): void {
    for (const runner of this.#runners.values()) runner.stop();
    this.#runners.clear();
  }
}

/**
 * The config with each discovered upstream's targets set to its last good answer (none
 * before the first, and then why: `discoveryFailure`): what the runtime, the balancer and
 * the health checks are built from.
 */
export function withDiscovered(
  config: GatewayConfig,
  reports: ReadonlyMap<string, DiscoveryReport>,
): GatewayConfig {
  let upstreams: Record<string, UpstreamConfig> | undefined;
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (upstream.discovery === undefined) continue;
    upstreams ??= { ...config.upstreams };
    const report = reports.get(name);
    const targets = report?.targets ?? [];
    upstreams[name] =
      targets.length > 0
        ? { ...upstream, targets }
        : { ...upstream, targets, discoveryFailure: report?.failure ?? null };
  }
  return upstreams === undefined ? config : { ...config, upstreams };
}

/**
 * Forgets the answers of upstreams the config asks no DNS for (their `discovery` removed, or
 * the upstream gone): given back later, an upstream starts with no target until its own first
 * answer, as the docs say, not on the set a discovery of an older config found (machines
 * since gone, addresses since given to others).
 */
export function forgetUndiscovered(config: GatewayConfig, reports: Map<string, DiscoveryReport>): void {
  for (const name of reports.keys())
    if (config.upstreams[name]?.discovery === undefined) reports.delete(name);
}
