import type { AcmeOrderOutcome, GatewayMetrics } from '../../observe/metrics/metrics.ts';
import type { CacheNews } from '../../proxy/cache/invalidation.ts';
import type { DiscoveryOutcome, DiscoveryReport } from '../../upstream/discovery/dns-discovery.ts';
import type { HealthVerdict } from '../../upstream/health/active-checks.ts';
import type { Announcement, ReturnNews } from '../../upstream/health/report-outcome.ts';
import { candorTag } from './message-tag.ts';

export type { WorkerShare } from '../../core/limits/worker-share.ts';
export type { DiscoveryReport } from '../../upstream/discovery/dns-discovery.ts';
export type { HealthVerdict } from '../../upstream/health/active-checks.ts';
export type { Announcement } from '../../upstream/health/report-outcome.ts';

/**
 * The messages that make a configured limit the gateway's rather than each worker's (see
 * README, "Limits across workers"). They travel on the same IPC channel as ipc-protocol.ts
 * but under their own tags, and none is a request of the admin layer: a worker asks only
 * the rate question, and every other message is a one-way announcement.
 *
 * Times are never sent as instants: each process has its own monotonic clock
 * (performance.now() starts at the process's birth), so a deadline travels as "this many
 * ms from now" and the receiver adds it to its own clock.
 */

export type SharedToWorker =
  | { readonly candor: 'health'; readonly verdicts: readonly HealthVerdict[]; readonly count: boolean }
  | { readonly candor: 'rate-answer'; readonly id: number; readonly wait: number }
  | {
      readonly candor: 'discovery';
      readonly report: DiscoveryReport;
      readonly outcome: DiscoveryOutcome;
      /** This worker counts it (one does, so the merged metrics count each question once). */
      readonly count: boolean;
    }
  /** A certificate ordered by the primary (automatic HTTPS) landed in acme.storage: serve it. */
  | { readonly candor: 'acme-issued'; readonly name: string }
  /** An order of the primary's ended: sent to the one worker that counts it. */
  | { readonly candor: 'acme-ordered'; readonly outcome: AcmeOrderOutcome }
  /** The first return of an ejection a worker told (ReturnNews): sent back to that worker, which counts it. */
  | (Omit<ReturnNews, 'candor'> & { readonly candor: 'return-counted' })
  /** The primary's answer to a worker about to renew an OpenID Connect session (renewal-peers.ts). */
  | {
      readonly candor: 'renew-answer';
      readonly id: number;
      readonly outcome: 'go' | 'renewed' | 'refused' | 'alone';
      readonly session?: unknown;
    }
  /** What the primary found while no worker served (its first probes and DNS answers): the first to serve counts it. */
  | { readonly candor: 'early-counts'; readonly counts: readonly EarlyCount[] }
  | Announcement
  | CacheNews;

/**
 * A count of the primary's (a probe, a target's transition, a DNS answer) made while no worker
 * served to count it, `times` over: what the serving worker that counts would have been told.
 */
export type EarlyCount =
  | {
      readonly metric: 'healthChecked';
      readonly args: Parameters<GatewayMetrics['healthChecked']>;
      readonly times: number;
    }
  | {
      readonly metric: 'healthTransition';
      readonly args: Parameters<GatewayMetrics['healthTransition']>;
      readonly times: number;
    }
  | {
      readonly metric: 'discovered';
      readonly args: Parameters<GatewayMetrics['discovered']>;
      readonly times: number;
    };

export type SharedFromWorker =
  | {
      readonly candor: 'rate-ask';
      readonly id: number;
      readonly route: string;
      readonly key: string;
      /** Date.now() past which the worker has decided alone: read later, the question takes no token. */
      readonly until?: number;
    }
  /** A worker about to renew the session of this refresh token (its SHA-256), and how the renewal it was told to make ended. */
  | { readonly candor: 'renew-ask'; readonly id: number; readonly key: string }
  | {
      readonly candor: 'renewed';
      readonly key: string;
      readonly outcome: 'renewed' | 'refused' | 'failed';
      readonly session?: unknown;
    }
  | Announcement
  | ReturnNews
  | CacheNews;

const TO_WORKER = new Set([
  'health',
  'discovery',
  'rate-answer',
  'acme-issued',
  'acme-ordered',
  'return-counted',
  'ejected',
  'circuit-opened',
  'circuit-closed',
  'cache-invalidated',
  'cache-stored',
  'renew-answer',
  'early-counts',
]);
const FROM_WORKER = new Set([
  'rate-ask',
  'renew-ask',
  'renewed',
  'ejected',
  'returned',
  'circuit-opened',
  'circuit-closed',
  'cache-invalidated',
  'cache-stored',
]);

export function isSharedToWorker(message: unknown): message is SharedToWorker {
  return TO_WORKER.has(candorTag(message) as string);
}

export function isSharedFromWorker(message: unknown): message is SharedFromWorker {
  return FROM_WORKER.has(candorTag(message) as string);
}
