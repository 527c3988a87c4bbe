/**
 * Where a fleet keeps what it shares, all under the config's key (so one etcd user's permission
 * on the prefix covers it): the document at the key, the record of the push that wrote it, and
 * each live gateway's record, bound to its lease.
 */

/** The record of the push that wrote the document, written in the same revision. */
export function pushKey(key: string): string {
  return `${key}/push`;
}

/** Every gateway's record: this prefix and its name. */
export function gatewaysPrefix(key: string): string {
  return `${key}/gateways/`;
}

/** The config canary under way or last ended (canary-push.ts): its document, gateways, phase and verdict. */
export function canaryKey(key: string): string {
  return `${key}/canary`;
}

/** Each gateway's counts during a config canary: this prefix and its name, bound to its lease. */
export function canaryCountsPrefix(key: string): string {
  return `${key}/canary-counts/`;
}

/** The gateway that judges the config canaries: its name, bound to its lease (fleet-canary.ts). */
export function canaryJudgeKey(key: string): string {
  return `${key}/canary-judge`;
}

/** Where a config canary is: applied on its gateways and judged, or over one way or the other. */
export type ConfigCanaryPhase = 'running' | 'promoted' | 'rolled_back';

/** A config canary as etcd holds it at canaryKey. */
export interface CanaryRecord {
  readonly author: string;
  /** When it was pushed (ISO). */
  readonly at: string;
  /** The revision of the config key it was pushed over: what every other gateway runs meanwhile. */
  readonly from: number;
  /** The canary's revision: the write that began it (absent in that write: read as its mod revision, canaryOf). */
  readonly revision?: number;
  /** Empty once ended (a promotion writes it under the config key at the verdict's revision: fleet-canary.ts). */
  readonly document: string;
  /** The gateways that run it, by name (the first N live ones in name order when pushed). */
  readonly gateways: readonly string[];
  /** How often its counts are looked at, and how long it must hold before every gateway takes it (ms). */
  readonly window_ms: number;
  readonly judge_for_ms: number;
  /** Requests each side needs before a look decides anything. */
  readonly min_requests: number;
  readonly phase: ConfigCanaryPhase;
  /** The one line that says why it ended (the metric and both sides' figures); null while it runs. */
  readonly verdict: string | null;
  /** The latest look's summary while it runs (the figures so far). */
  readonly last_look?: string;
  /** The latest look (the one that decided it, once over), of the planned looks (one each window). */
  readonly look?: number;
  readonly looks?: number;
  readonly ended_at?: string;
  /** The gateway that judged it. */
  readonly judged_by?: string;
}

/** A canary read from etcd, with its revision filled in; undefined when the value is not one. */
export function canaryOf(kv: { value: string; modRevision: number } | undefined): Canary | undefined {
  const record = readJson<CanaryRecord>(kv?.value ?? '');
  if (kv === undefined || record === undefined || !Array.isArray(record.gateways)) return undefined;
  return { ...record, revision: record.revision ?? kv.modRevision, modRevision: kv.modRevision };
}

/** A canary as read: its revision known, and the mod revision of its record (a verdict's compare-and-swap). */
export type Canary = CanaryRecord & { readonly revision: number; readonly modRevision: number };

/** A gateway's counts of a canary's time, written by it under canaryCountsPrefix. */
export interface CountsRecord {
  /** The canary's revision the counts are of. */
  readonly canary: number;
  readonly gateway: string;
  /** Its process: another one (a restart) begins its totals again. */
  readonly pid: number;
  /** The revision it ran while it counted: the canary's, or (the others) the one it was pushed over. */
  readonly revision: number;
  /** Every attempt's outcome since it began running that revision in this canary (canary-window.ts's SideCounts). */
  readonly total: unknown;
}

/** The author of a revision written without `candor config push` (no record beside it). */
export const NO_PUSH_RECORD = 'unknown (no push record)';
/**
 * The author of a revision etcd compacted away before it was read, whose push record (if it had
 * one) a later push's replaced: not known, and not to be taken for a hand write.
 */
export const COMPACTED_AWAY = 'unknown (its revision was compacted away)';
/** The author of a revision whose push record etcd did not give (it did not answer). */
export const UNREAD_PUSH = 'unknown (etcd did not answer)';

/** What a push records beside the document. */
export interface PushRecord {
  readonly author: string;
  /** When it was pushed (ISO). */
  readonly at: string;
  /** The revision the author read and wrote over (0: the key was empty). */
  readonly from: number;
  /** A rollback: the revision whose document it wrote again. */
  readonly rollback_of?: number;
  /** A config canary's promotion: the canary's revision, judged on its gateways first. */
  readonly canary_of?: number;
}

/** A gateway's record under gatewaysPrefix, kept while its lease lives. */
export interface GatewayRecord {
  readonly name: string;
  /** Its listeners, host:port. */
  readonly address: string;
  /**
   * The machine it runs on (its hostname): with `address`, what tells a gateway's own record (a
   * restart's) from another's, as two hosts listening on one address (`0.0.0.0:8080`) look alike
   * by address alone. Absent in the records of earlier versions: their address alone is compared.
   */
  readonly host?: string;
  readonly version: string;
  readonly pid: number;
  /** The revision of the document it runs, and the loaded config's hash. */
  readonly revision: number;
  readonly hash: string;
  /** Since when it runs that revision (ISO). */
  readonly since: string;
  /** The last revision it refused, with why (file:line:column field: message, each). */
  readonly refused?: { readonly revision: number; readonly at: string; readonly problems: readonly string[] };
  /** Since when etcd is unreachable (ISO) when it last could say so; absent while reachable. */
  readonly unreachable_since?: string;
}

export function readJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
