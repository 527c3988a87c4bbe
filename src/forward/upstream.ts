import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { type buildConnector, Pool } from 'undici';
import type { UpstreamConfig } from '../config/types.ts';
import { type Balancer, createBalancer, type TargetState } from '../select/balancer.ts';
import { createConnector } from './connector.ts';

/** Largest response header section accepted from an upstream before http_response_header_section_size. */
export const UPSTREAM_MAX_HEADER_SIZE = 32 * 1024;

export interface Target extends TargetState {
  readonly pool: Pool;
}

/** An upstream at run time: its targets with their connection pools, and its balancer. */
export interface Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly targets: readonly Target[];
  readonly balancer: Balancer<Target>;
  /** Opens a classified connection to a target (the pools use it; so do upgrades, which leave the pools). */
  readonly connect: buildConnector.connector;
  close(): Promise<void>;
}

export function createUpstream(config: UpstreamConfig): Upstream {
  const ca = config.tls.ca === undefined ? undefined : readFileSync(config.tls.ca);
  const connect = createConnector({
    timeout: config.timeouts.connect,
    // A configured CA is trusted in addition to the system's roots, not instead of them.
    ca: ca === undefined ? undefined : [...rootCertificates, ca.toString()].join('\n'),
    servername: config.tls.servername,
    rejectUnauthorized: !config.tls.insecureSkipVerify,
  });
  const targets: Target[] = config.targets.map((target) => ({
    config: target,
    active: 0,
    pool: new Pool(target.origin, {
      connections: config.pool.maxConnections,
      keepAliveTimeout: config.pool.idleTimeout,
      keepAliveMaxTimeout: Math.max(config.pool.idleTimeout, 1000),
      headersTimeout: config.timeouts.response,
      bodyTimeout: config.timeouts.read,
      maxHeaderSize: UPSTREAM_MAX_HEADER_SIZE,
      connect,
    }),
  }));
  return {
    name: config.name,
    config,
    targets,
    balancer: createBalancer(config.balancer, targets),
    connect,
    async close() {
      await Promise.all(targets.map((t) => t.pool.destroy()));
    },
  };
}
