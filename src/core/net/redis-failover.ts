/**
 * What every Redis connection of a gateway does with an answer that says it reached a replica
 * (the stores of rate limits and sessions, proxy/admit/redis-link.ts; a fleet's, fleet-redis.ts).
 */

/**
 * ioredis's reconnectOnError: a write answered READONLY reached a replica, most often a primary
 * demoted by a failover behind the same address (Sentinel moving a DNS name or a virtual IP, a
 * managed Redis's primary endpoint). It keeps the connections it had and answers each write so,
 * for ever; a new connection reaches the new primary. The call itself still fails (1: reconnect,
 * nothing sent again): its caller decides at once, as for any failure.
 */
export function answeredByReplica(err: Error): 1 | false {
  return err.message.startsWith('READONLY') ? 1 : false;
}
