import type { Redis } from 'ioredis';

/**
 * Calls asked of one Redis connection and not answered yet, at most. A Redis that stalls (a long
 * fork, swap, SIGSTOP, a far end gone without a word) keeps its connection: each call gives up
 * after its timeout, but ioredis keeps its command, to match the replies that may still come, so
 * every call made during the stall stays in memory for as long as it lasts (a gigabyte a minute
 * at 5000 calls a second). A call the request path makes for any client past this bound fails
 * at once, and nothing is sent.
 */
export const MAX_UNANSWERED = 1024;

/** Why no call should be sent on `client` now (stalled past MAX_UNANSWERED), or undefined. */
export function redisStalled(client: Redis): string | undefined {
  // Written and awaiting a reply, or waiting for this turn's pipeline to be written.
  const unanswered = client.commandQueue.length + client.autoPipelineQueueSize;
  return unanswered >= MAX_UNANSWERED
    ? `${unanswered} calls sent and not answered: Redis is stalled`
    : undefined;
}
