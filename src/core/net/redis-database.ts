import type { Redis } from 'ioredis';

/**
 * Every Redis connection of a gateway (the stores of rate limits and sessions,
 * proxy/admit/redis-link.ts; a fleet's, fleet-redis.ts): a URL's database (`redis://…/3`) that
 * Redis refuses to SELECT (past its `databases`: "ERR DB index is out of range"; a cluster's
 * "SELECT is not allowed"; an ACL user without it: NOPERM) leaves the connection unused. ioredis
 * tells the refusal as an error event and goes on to ready on database 0, where every call then
 * lands: the limits, sessions and canary verdicts of the fleet that keeps its keys there, under
 * the same prefix, shared with this one, and the store told up. The connection is destroyed
 * instead, before its ready check is answered, so it never becomes ready; ioredis opens another
 * after its retry delay, refused again (an error event each time, the store down and why)
 * until Redis has that database.
 */
export function refuseUnselectedDatabase(client: Redis): void {
  client.on('error', (err: Error & { command?: { name?: string } }) => {
    if (err.command?.name === 'select' && client.status === 'connect') client.stream.destroy();
  });
}
