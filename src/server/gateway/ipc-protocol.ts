import type { ConfigProblem } from '../../core/config/config-error.ts';
import type { FieldLines } from '../../core/config/field-lines.ts';
import type { GatewayConfig } from '../../core/config/types.ts';
import type { RecordedEvent } from '../../observe/events/gateway-event.ts';
import type { ActivityReport } from '../../observe/metrics/activity.ts';
import type { PurgeScope } from '../../proxy/cache/route-caches.ts';
import type { SideCounts, WindowCounts } from '../../upstream/canary/canary-window.ts';
import { candorTag } from './message-tag.ts';
import type { ReloadOutcome } from './reload-outcome.ts';
import type { RuntimeChange } from './runtime-changes.ts';
import type { Announcement, DiscoveryReport, HealthVerdict, WorkerShare } from './shared-protocol.ts';
import type { GatewayStatus } from './status.ts';

/**
 * What the cluster primary and its workers say to each other over Node's IPC channel (JSON).
 * The primary validates every config and every change before sending it, so a worker only
 * applies; each request carries an id and gets exactly one answer with it.
 *
 * - start: the first message a worker gets: the config and runtime changes in force now, so
 *   a worker started after a reload or a change (a restart after a crash) runs what the others run.
 * - reload / change / status: answered by reloaded / changed / status with the same id.
 * - activity: the worker's answers per second and latest failures (the status page), answered
 *   by activity with the same id.
 * - events: the worker's deploy timeline (its ring, after `since` when given), answered by events
 *   with the same id.
 * - canary_window: a canary route's counts since the last ask (a new window begins), answered
 *   by canary_window with them (undefined: the worker has no such canary).
 * - gateway_counts: every attempt's outcome since the last ask, whatever its route (a fleet's
 *   config canary, GatewayWindow), answered by gateway_counts with them (a new window begins).
 * - purge: drop stored answers from the routes' caches (all, one route's, or one route's keys
 *   under a prefix), answered by purge_taken once it is in effect (no answer it covers is served
 *   from then on), then by purged with how many went and which (by id, up to a bound), once the
 *   files of a `cache.dir` are gone too (a prefix's, in a large directory, takes seconds).
 */
export type ToWorker =
  | {
      readonly candor: 'start';
      readonly config: GatewayConfig;
      readonly changes: readonly RuntimeChange[];
      /** This worker's slice of the split limits (a restarted worker takes the slice of the one it replaces). */
      readonly share: WorkerShare;
      /** The primary's health verdicts now: a worker started later does not begin blind. */
      readonly health: readonly HealthVerdict[];
      /** The primary's latest DNS answers for discovered upstreams: the targets to start on. */
      readonly discovered?: readonly DiscoveryReport[];
      /** The circuits open and the targets ejected now (other workers'), each with the ms it has left. */
      readonly breakers?: readonly Announcement[];
      /** Where its fields are written (field-lines.ts): a refusal of the start (a plugin's factory) names its line. */
      readonly lines?: FieldLines;
      /** The ports the gateway announced for its listeners written on port 0, by name (listen-options.ts). */
      readonly ports?: Readonly<Record<string, number>>;
    }
  /** With where its fields are written (field-lines.ts), for a refusal's line. */
  | {
      readonly candor: 'reload';
      readonly id: number;
      readonly config: GatewayConfig;
      readonly lines?: FieldLines;
    }
  | { readonly candor: 'change'; readonly id: number; readonly change: RuntimeChange }
  | { readonly candor: 'status'; readonly id: number }
  | { readonly candor: 'activity'; readonly id: number }
  | { readonly candor: 'purge'; readonly id: number; readonly scope: PurgeScope }
  | { readonly candor: 'events'; readonly id: number; readonly since?: number; readonly after?: number }
  | { readonly candor: 'canary_window'; readonly id: number; readonly route: string }
  | { readonly candor: 'gateway_counts'; readonly id: number };

export type FromWorker =
  | {
      readonly candor: 'reloaded';
      readonly id: number;
      readonly outcome?: ReloadOutcome;
      readonly problems?: readonly ConfigProblem[];
      readonly error?: string;
    }
  | { readonly candor: 'changed'; readonly id: number; readonly error?: string }
  | { readonly candor: 'status'; readonly id: number; readonly status: GatewayStatus }
  | { readonly candor: 'activity'; readonly id: number; readonly activity: ActivityReport }
  | { readonly candor: 'purge_taken'; readonly id: number }
  /** `ids`: what went, named (purge-tally.ts), so that the primary counts an answer two workers held once; absent past PURGE_IDS_MAX. */
  | {
      readonly candor: 'purged';
      readonly id: number;
      readonly removed: number;
      readonly ids?: readonly string[];
    }
  | { readonly candor: 'events'; readonly id: number; readonly events: readonly RecordedEvent[] }
  | { readonly candor: 'canary_window'; readonly id: number; readonly window: WindowCounts | undefined }
  | { readonly candor: 'gateway_counts'; readonly id: number; readonly counts: SideCounts };

/**
 * A worker's listeners are open (sent once, after it started): with a socket of its own per
 * worker (listen-options.ts) the cluster's 'listening' event, which only the primary's shared
 * sockets raise, does not come.
 */
export interface ServingMessage {
  readonly candor: 'serving';
  /** The bound port of each listener, in the config's order. */
  readonly ports: readonly number[];
}

export function isServing(message: unknown): message is ServingMessage {
  return candorTag(message) === 'serving';
}

/**
 * A worker could not start (a plugin's factory threw, a certificate unreadable): why, for the
 * primary to say once for the gateway, where the operator wrote it (a fleet's problem at the etcd
 * key and the document's line, not at the file composed from it), never once per worker.
 */
export interface StartRefusedMessage {
  readonly candor: 'start_refused';
  readonly message: string;
  /** A config's problems (a ConfigError's), each at its file, line and field. */
  readonly problems?: readonly ConfigProblem[];
}

export function isStartRefused(message: unknown): message is StartRefusedMessage {
  return candorTag(message) === 'start_refused';
}

export function isToWorker(message: unknown): message is ToWorker {
  return typeof message === 'object' && message !== null && 'candor' in message;
}

// The primary's answers only: the shared-state messages (shared-protocol.ts) travel on the same channel.
const ANSWERS = new Set([
  'reloaded',
  'changed',
  'status',
  'activity',
  'purge_taken',
  'purged',
  'events',
  'canary_window',
  'gateway_counts',
]);

export function isFromWorker(message: unknown): message is FromWorker {
  return ANSWERS.has(candorTag(message) as string) && 'id' in (message as object);
}
