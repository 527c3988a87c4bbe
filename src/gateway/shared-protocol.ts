import type { ProbeResult } from '../health/probe.ts';

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

/** One target's active-check state, as the primary (which alone probes) judged it. */
export interface HealthVerdict {
  readonly upstream: string;
  readonly origin: string;
  readonly healthy: boolean;
  /** The last probe, its `at` as the primary saw it: a receiver dates it with its own clock. */
  readonly result?: ProbeResult;
  /** How long before sending the probe ended. */
  readonly ageMs?: number;
}

/** Which slice of the split limits a worker enforces: worker `index` of `of` (see worker-share.ts). */
export interface WorkerShare {
  readonly index: number;
  readonly of: number;
}

export type SharedToWorker =
  | { readonly candor: 'health'; readonly verdicts: readonly HealthVerdict[]; readonly count: boolean }
  | { readonly candor: 'rate-answer'; readonly id: number; readonly wait: number }
  | {
      readonly candor: 'ejected';
      readonly upstream: string;
      readonly origin: string;
      readonly forMs: number;
      readonly ejections: number;
    }
  | { readonly candor: 'circuit-opened'; readonly upstream: string; readonly forMs: number };

export type SharedFromWorker =
  | { readonly candor: 'rate-ask'; readonly id: number; readonly route: string; readonly key: string }
  | {
      readonly candor: 'ejected';
      readonly upstream: string;
      readonly origin: string;
      readonly forMs: number;
      readonly ejections: number;
    }
  | { readonly candor: 'circuit-opened'; readonly upstream: string; readonly forMs: number };

const TO_WORKER = new Set(['health', 'rate-answer', 'ejected', 'circuit-opened']);
const FROM_WORKER = new Set(['rate-ask', 'ejected', 'circuit-opened']);

export function isSharedToWorker(message: unknown): message is SharedToWorker {
  return (
    typeof message === 'object' &&
    message !== null &&
    TO_WORKER.has((message as { candor?: unknown }).candor as string)
  );
}

export function isSharedFromWorker(message: unknown): message is SharedFromWorker {
  return (
    typeof message === 'object' &&
    message !== null &&
    FROM_WORKER.has((message as { candor?: unknown }).candor as string)
  );
}
