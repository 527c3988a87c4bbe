/**
 * A fleet's Redis client (ACME orders, canary verdicts) whose connection's far end is gone
 * without a word (the Redis host lost, a NAT that forgot the flow): nothing comes back, nothing
 * closes, while a new connection would be answered. Every call timed out until TCP gave up, about
 * 15 minutes; a connection silent for 10 s while calls wait is now opened again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openFleetRedis } from '../../../src/core/net/fleet-redis.ts';
import { type CuttableRelay, cuttableRelay } from '../../helpers/cuttable-relay.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';

let redis: RedisProcess;
let relay: CuttableRelay;

before(async () => {
  redis = await startRedis();
  relay = await cuttableRelay(redis.port);
});

after(() => closeAll(relay, redis));

test('a connection silent while calls wait is opened again, and the next calls are answered', async () => {
  const client = await openFleetRedis({ url: redis.url.replace(`:${redis.port}`, `:${relay.port}`) });
  try {
    assert.equal(await client.set('fleet:k', 'before'), 'OK');
    relay.silence();
    await assert.rejects(client.get('fleet:k'), /^Error: Command timed out$/);
    let answer: unknown;
    for (let tries = 0; answer !== 'before'; tries++) {
      assert.ok(tries < 6, 'a call is answered on a new connection');
      answer = await client.get('fleet:k').catch((err: Error) => err.message);
    }
  } finally {
    client.disconnect();
  }
});
