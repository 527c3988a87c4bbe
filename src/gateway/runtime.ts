import { Admission } from '../admit/admission.ts';
import type { GatewayConfig } from '../config/types.ts';
import { startActiveChecks } from '../health/active-checks.ts';
import type { Logger } from '../log/logger.ts';
import { createTrustList, type TrustList } from '../net/trust.ts';
import { createRouter, type Router } from '../route/router.ts';
import { createUpstream, type Upstream } from '../upstream/upstream.ts';

/**
 * One config snapshot made live: router, upstream pools, trust list. Requests hold the
 * runtime they started on, so a reload can swap in a new one while they finish.
 */
export interface Runtime {
  readonly config: GatewayConfig;
  readonly name: string;
  readonly router: Router;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly trust: TrustList;
  /** Maintenance, rate limits and per-route load shedding (per-listener shedding lives with the listener). */
  readonly admission: Admission;
  readonly logger: Logger;
  /** Via entries for HTTP/1.0 and HTTP/1.1 clients, built once. */
  readonly via10: string;
  readonly via11: string;
  close(): Promise<void>;
}

export function createRuntime(config: GatewayConfig, logger: Logger): Runtime {
  const upstreams = new Map<string, Upstream>();
  for (const [name, upstream] of Object.entries(config.upstreams))
    upstreams.set(name, createUpstream(upstream));
  const checks = [...upstreams.values()].map((upstream) => startActiveChecks(upstream, logger));
  return {
    config,
    name: config.name,
    router: createRouter(config.routes),
    upstreams,
    trust: createTrustList(config.trustForwardedFrom),
    admission: new Admission(config.routes),
    logger,
    via10: `1.0 ${config.name}`,
    via11: `1.1 ${config.name}`,
    async close() {
      await Promise.all(checks.map((c) => c.stop()));
      await Promise.all([...upstreams.values()].map((u) => u.close()));
    },
  };
}
