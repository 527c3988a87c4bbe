import type { Redis } from 'ioredis';
import { refuseUnselectedDatabase } from './redis-database.ts';
import { answeredByReplica } from './redis-failover.ts';
import { ioredisUrl } from './redis-url.ts';

/**
 * The Redis client a fleet's shared work uses (ACME orders, canary verdicts): ioredis loaded
 * with the first one (a gateway without `store` never loads it), one retry per call, every
 * call and connect bounded at 5 s, reconnects backing off to 2 s, and a new connection after a
 * write answered READONLY (redis-failover.ts) or after SILENT_BEFORE_REOPEN_MS of silence while
 * calls wait (reopenWhenSilent). Errors are told by the calls
 * that fail (their callers log them), so the client's own error events are dropped here.
 */
export async function openFleetRedis(config: { readonly url: string }, name?: string): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(ioredisUrl(config.url), {
    // Named, when the caller names it: Redis's CLIENT LIST then tells what each client is for.
    ...(name === undefined ? {} : { connectionName: name }),
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    commandTimeout: 5_000,
    retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)),
    reconnectOnError: answeredByReplica,
  });
  client.on('error', () => {});
  refuseUnselectedDatabase(client);
  reopenWhenSilent(client);
  return client;
}

/**
 * How long a ready connection may send nothing at all while calls wait on it before it is opened
 * again: two of its calls' timeouts. A far end gone without a word (its host lost, a failover
 * behind the same address, a NAT that forgot the flow) closes nothing, and TCP gives up only
 * after about 15 minutes of retransmissions: until then every call timed out, a canary's
 * fleet state went unread and unwritten, and ACME orders went alone.
 */
const SILENT_BEFORE_REOPEN_MS = 10_000;

/** Destroys `client`'s connection once it is silent past SILENT_BEFORE_REOPEN_MS with calls waiting: ioredis reconnects. */
function reopenWhenSilent(client: Redis): void {
  let heardAt = performance.now();
  let waitingSince: number | undefined;
  // Each connection's stream is new: what it sends, replies or not, says it is alive.
  client.on('connect', () => client.stream.on('data', () => (heardAt = performance.now())));
  const timer = setInterval(() => {
    const now = performance.now();
    if (client.commandQueue.length === 0 || client.status !== 'ready') waitingSince = undefined;
    else waitingSince ??= now;
    if (waitingSince !== undefined && now - Math.max(waitingSince, heardAt) >= SILENT_BEFORE_REOPEN_MS) {
      waitingSince = undefined;
      client.stream.destroy();
    }
  }, 1_000);
  timer.unref();
  client.once('end', () => clearInterval(timer));
}
