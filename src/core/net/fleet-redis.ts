import type { Redis } from 'ioredis';
import { answeredByReplica } from './redis-failover.ts';

/**
 * The Redis client a fleet's shared work uses (ACME orders, canary verdicts): ioredis loaded
 * with the first one (a gateway without `store` never loads it), one retry per call, every
 * call and connect bounded at 5 s, reconnects backing off to 2 s, and a new connection after a
 * write answered READONLY (redis-failover.ts). Errors are told by the calls
 * that fail (their callers log them), so the client's own error events are dropped here.
 */
export async function openFleetRedis(config: { readonly url: string }, name?: string): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(config.url, {
    // Named, when the caller names it: Redis's CLIENT LIST then tells what each client is for.
    ...(name === undefined ? {} : { connectionName: name }),
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    commandTimeout: 5_000,
    retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)),
    reconnectOnError: answeredByReplica,
  });
  client.on('error', () => {});
  return client;
}
