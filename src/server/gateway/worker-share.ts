import type { GatewayConfig } from '../../core/config/types.ts';
import { sliceOf, type WorkerShare } from '../../core/limits/worker-share.ts';

/**
 * The limits a cluster splits among its workers instead of sharing them (README, "Limits
 * across workers"): asking the primary for every request's slot and giving it back would put
 * two IPC messages on every request's path, and these limits are there to protect the
 * gateway under load, when that cost is worst. Split exactly, the workers' limits add up to
 * the configured one, so the gateway never goes over it; the error is the other way: a
 * worker may shed while another still has room.
 *
 * - `max_in_flight` (listeners and routes): worker i of N enforces ⌊max/N⌋, plus one while
 *   i < max mod N. A listener's `max_connections` the same way, but never 0 (a worker that
 *   could hold no connection would drop every one the kernel gives it).
 * - the retry budget's absolute floors: `budget_min_concurrent` the same way,
 *   `budget_min_per_second` divided by N. Its ratio needs no split: each worker's retries
 *   stay under the ratio of its own requests, so the sum stays under the ratio of all.
 * - `limits.spool.max_total` the same way (each worker's spooled files are its own), and
 *   `limits.buffer_total` (each worker's memory is its own).
 * - an upstream's `hold.max_requests` (never 0: a worker that could hold none would answer at
 *   once) and `hold.max_body` the same way: each worker's requests wait in its own line.
 */
export function splitLimits(config: GatewayConfig, share: WorkerShare): GatewayConfig {
  if (share.of === 1) return config;
  const part = (max: number) => sliceOf(max, share);
  return {
    ...config,
    limits: {
      ...config.limits,
      spool: { ...config.limits.spool, maxTotal: part(config.limits.spool.maxTotal) },
      bufferTotal: part(config.limits.bufferTotal),
    },
    listen: config.listen.map((l) => ({
      ...l,
      maxConnections: Math.max(1, part(l.maxConnections)),
      maxConnectionsOf: l.maxConnections,
      ...(l.maxInFlight === undefined
        ? {}
        : { maxInFlight: part(l.maxInFlight), maxInFlightOf: l.maxInFlight }),
    })),
    // The whole value goes with the share, so that a shed request is told which it met.
    routes: config.routes.map((r) =>
      r.maxInFlight === undefined
        ? r
        : { ...r, maxInFlight: part(r.maxInFlight), maxInFlightOf: r.maxInFlight },
    ),
    upstreams: Object.fromEntries(
      Object.entries(config.upstreams).map(([name, u]) => [
        name,
        {
          ...u,
          retries: {
            ...u.retries,
            budgetMinConcurrent: part(u.retries.budgetMinConcurrent),
            budgetMinPerSecond: u.retries.budgetMinPerSecond / share.of,
          },
          ...(u.hold === undefined
            ? {}
            : {
                hold: {
                  ...u.hold,
                  maxRequests: Math.max(1, part(u.hold.maxRequests)),
                  maxBody: part(u.hold.maxBody),
                  of: { maxRequests: u.hold.maxRequests, maxBody: u.hold.maxBody },
                },
              }),
        },
      ]),
    ),
  };
}
