import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { UpstreamConfig } from '../config/types.ts';
import { type Connector, createConnector } from '../http1/connector.ts';
import { ConnectionPool } from '../http1/pool.ts';
import { Count } from '../limits/count.ts';
import { type Balancer, createBalancer, TargetState } from './balancer.ts';
import { type Circuit, createCircuit } from './circuit.ts';
import { Panic } from './panic.ts';
import { RetryBudget } from './retry-budget.ts';

/** Largest response header section accepted from an upstream before http_response_header_section_size. */
export const UPSTREAM_MAX_HEADER_SIZE = 32 * 1024;

export type Target = TargetState & { readonly pool: ConnectionPool };

/** An upstream at run time: its targets with their pools and states, its balancer, its circuit. */
export interface Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  readonly targets: readonly Target[];
  readonly balancer: Balancer<Target>;
  /** The upstream-wide circuit breaker (each target's own circuit is its ejection state). */
  readonly circuit: Circuit;
  /** Whether too few targets pass their health checks for the checks to be believed (see panic.ts). */
  readonly panic: Panic;
  /** Opens a classified connection to a target (the pools use it; so do upgrades, which leave the pools). */
  readonly connect: Connector;
  /** Requests in flight to this upstream, first attempts and retries alike (the retry budget's base). */
  readonly inFlight: Count;
  /** Attempts dispatched that wait for a connection (bounded by pool.max_pending). */
  readonly pending: Count;
  /** Retries in flight and retry tokens (see retry-budget.ts). */
  readonly retryBudget: RetryBudget;
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
  const targets: Target[] = config.targets.map((target) =>
    Object.assign(new TargetState(target), {
      pool: new ConnectionPool(target, connect, {
        maxConnections: config.pool.maxConnections,
        idleTimeout: config.pool.idleTimeout,
        timeouts: {
          // Each attempt's wait for the head is the per-try timeout (the response timeout unless retries set one).
          head: Math.min(config.retries.perTryTimeout, config.timeouts.response),
          read: config.timeouts.read,
        },
        maxHeaderSize: UPSTREAM_MAX_HEADER_SIZE,
      }),
    }),
  );
  const inFlight = new Count();
  const panic = new Panic(config.panicThreshold);
  return {
    name: config.name,
    config,
    targets,
    balancer: createBalancer(config.balancer, targets, {
      slowStart: config.slowStart,
      halfOpenProbes: config.circuitBreaker.halfOpenRequests,
      panic,
    }),
    circuit: createCircuit(config.circuitBreaker),
    panic,
    connect,
    inFlight,
    pending: new Count(),
    retryBudget: new RetryBudget(config.retries, inFlight),
    async close() {
      await Promise.all(targets.map((t) => t.pool.close()));
    },
  };
}
