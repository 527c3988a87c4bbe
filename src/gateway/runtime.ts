import { Admission } from '../admit/admission.ts';
import type { GatewayConfig } from '../config/types.ts';
import { startActiveChecks } from '../health/active-checks.ts';
import type { Logger } from '../log/logger.ts';
import { createTrustList } from '../net/trust.ts';
import { createRouter } from '../route/router.ts';
import type { Runtime } from '../session/runtime.ts';
import type { Tracing } from '../tracing/spans.ts';
import { createUpstream, type Upstream } from '../upstream/upstream.ts';

/** Makes a config snapshot live: its router, upstream pools with their health checks, trust list and admit policies. */
export function createRuntime(config: GatewayConfig, logger: Logger, tracing: Tracing | undefined): Runtime {
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
    tracing,
    via10: `1.0 ${config.name}`,
    via11: `1.1 ${config.name}`,
    async close() {
      await Promise.all(checks.map((c) => c.stop()));
      await Promise.all([...upstreams.values()].map((u) => u.close()));
    },
  };
}
