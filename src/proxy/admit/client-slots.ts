import { Failure } from '../../core/failure/failure.ts';
import { noRelease, type Release } from '../../core/limits/count.ts';
import type { PerKeyCount } from '../../core/limits/per-key-count.ts';
import { clientBlock } from '../../core/net/client-block.ts';

/**
 * The most clients each `limits.per_client` table follows at once. An entry lives while its
 * client holds a connection or a request, so the listeners' `max_connections` bounds a table long
 * before this does; this bound is for the worst case (a flood from many addresses), where a new
 * client past it is refused like one over its limit.
 */
export const MAX_CLIENTS = 100_000;

/** A client's refusals say when to come back: a connection or a request of its own will have ended by then. */
const RETRY_AFTER_S = 1;

/**
 * Who a per-client count counts: with `identity`, the user an auth admitted (`u:` keeps a user
 * named like an address out of that address's count); else the client's address, an IPv6 client
 * by its /64 (client-block.ts: a host picks its own addresses in it).
 */
export function clientKey(address: string, identity?: string): string {
  return identity === undefined ? clientBlock(address) : `u:${identity}`;
}

/**
 * Takes a slot of `table` for `key`; a Failure (429) when it holds `max` already. Without `max`,
 * nothing is counted. `what` names one slot and many (`['connection', 'connections']`).
 */
export function takeClientSlot(
  table: PerKeyCount,
  key: string,
  max: number | undefined,
  what: readonly [one: string, many: string],
): Release | Failure {
  if (max === undefined) return noRelease;
  const release = table.acquire(key, max);
  if (release !== undefined) return release;
  const who = key.startsWith('u:')
    ? 'this user'
    : key.includes('/')
      ? "this client's IPv6 /64"
      : 'this client address';
  const details =
    table.count(key) >= max
      ? `${who} holds ${max} ${what[max === 1 ? 0 : 1]} already (limits.per_client)`
      : `the gateway follows ${MAX_CLIENTS} clients already (limits.per_client)`;
  return new Failure('http_request_denied', details, { retryAfter: RETRY_AFTER_S });
}
