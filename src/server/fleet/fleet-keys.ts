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

/** What a push records beside the document. */
export interface PushRecord {
  readonly author: string;
  /** When it was pushed (ISO). */
  readonly at: string;
  /** The revision the author read and wrote over (0: the key was empty). */
  readonly from: number;
  /** A rollback: the revision whose document it wrote again. */
  readonly rollback_of?: number;
}

/** A gateway's record under gatewaysPrefix, kept while its lease lives. */
export interface GatewayRecord {
  readonly name: string;
  /** Its listeners, host:port. */
  readonly address: string;
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
