/**
 * A canary's state in the fleet's Redis is read as data, not trusted: `share: 150` there gave
 * every worker the weights 150 / −50, and every request went to the canary at its 10 % step. A
 * state whose share, step or phase no gateway writes is now no state (not adopted, and written
 * over by the next change), and a gateway refuses a negative weight whoever sends it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;
let redis: RedisProcess;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
  redis = await startRedis();
});

after(async () => {
  await stable?.close();
  await next?.close();
  await redis?.kill();
});

// Never judged (min_requests out of reach), never stepped by time: only the fleet's state moves it.
const canary =
  'steps: [10, 50], step_interval: 10s, check_interval: 100ms, min_requests: 100000, max_duration: 1h';

test("a canary state in the fleet's Redis with a share, step or phase no gateway writes is not adopted, and is written over", {
  timeout: 60_000,
}, async () => {
  const gw = await startGatewayFromText(`name: fleet-edge
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes(canary, stable.url, next.url)}`);
  const client = new Redis(redis.url);
  try {
    const state = () => gw.gateway.canaries()[0];
    await waitUntil('the first step', () => state()?.share === 10, 15_000);
    await waitUntil('a look', () => state()?.last_verdict !== null, 15_000);
    const planted = (fields: Record<string, unknown>, seq: number) =>
      client.set(
        'candor:canary:api:state',
        JSON.stringify({
          seq,
          canary: 'next',
          phase: 'running',
          step: 0,
          share: 10,
          reason: null,
          failedMetric: null,
          ...fields,
        }),
        'PX',
        3_600_000,
      );
    const bad: Record<string, unknown>[] = [
      { share: 150 },
      { share: -20 },
      { step: 7 },
      { step: 0.5 },
      { phase: 'exploded' },
    ];
    for (const [i, fields] of bad.entries()) {
      await planted(fields, 1000 + i);
      // Looks of the gateway, each reading the fleet's state (every 100 ms).
      const looked = gw.logs.length;
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(
        gw.logs.slice(looked).filter((l) => l.msg === 'canary adopted from the fleet'),
        [],
        JSON.stringify(fields),
      );
      assert.equal(state().share, 10, JSON.stringify(fields));
      assert.equal(state().phase, 'running', JSON.stringify(fields));
    }
    // Before: the weights 150 / −50 sent every request to the canary.
    const load = await paceLoad(gw.url, 400, () => false, 200);
    assert.equal(load.statuses[200], 200);
    assert.ok((load.bodies.next ?? 0) < 60, `the canary got ${load.bodies.next} of 200 at its 10 % step`);
    // A state that is none is written over by this gateway's next change, not a conflict for ever.
    const paused = await gw.gateway.canary('api', 'pause', 'op');
    assert.ok('status' in paused && paused.status.phase === 'paused', JSON.stringify(paused));
    const stored = JSON.parse((await client.get('candor:canary:api:state')) ?? 'null');
    assert.equal(stored.phase, 'paused');
    assert.equal(stored.share, 10);
  } finally {
    client.disconnect();
    await gw.close();
  }
});

test('a gateway refuses a split with a negative weight, whoever sends it: its weights stay', {
  timeout: 30_000,
}, async () => {
  const gw = await startGatewayFromText(`name: alone
listen:
  - address: 127.0.0.1:0
${canaryRoutes(canary, stable.url, next.url)}`);
  try {
    await waitUntil('the first step', () => gw.gateway.canaries()[0]?.share === 10, 15_000);
    assert.throws(
      () =>
        gw.gateway.apply({
          kind: 'split',
          route: 'api',
          sides: [
            { upstream: 'next', weight: 150 },
            { upstream: 'stable', weight: -50 },
          ],
        }),
      /sides\[1\]\.weight: expected a whole number from 0 to 1000, got -50/,
    );
    const load = await paceLoad(gw.url, 400, () => false, 200);
    assert.ok((load.bodies.next ?? 0) < 60, `the canary got ${load.bodies.next} of 200 at its 10 % step`);
  } finally {
    await gw.close();
  }
});

test("a canary's lease in the fleet's Redis held with no expiry is given one: a gateway leads once it ends", {
  timeout: 60_000,
}, async () => {
  const client = new Redis(redis.url);
  try {
    await client.set('candor:canary:api:leader', 'someone');
    const gw = await startGatewayFromText(`name: fleet-edge
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes(canary, stable.url, next.url)}`);
    try {
      await waitUntil('the first step', () => gw.gateway.canaries()[0]?.share === 10, 15_000);
      // Before, nobody ever judged the fleet's canary: the lease was someone's for good (PTTL -1).
      let holder: string | null = 'someone';
      let ttl = -1;
      for (let tries = 0; (holder === 'someone' || holder === null) && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const read = await client
          .multi()
          .get('candor:canary:api:leader')
          .pttl('candor:canary:api:leader')
          .exec();
        holder = read?.[0]?.[1] as string | null;
        ttl = read?.[1]?.[1] as number;
      }
      assert.notEqual(holder, 'someone');
      assert.ok(ttl > 0 && ttl <= 3_000, `the lease ends in ${ttl} ms`);
    } finally {
      await gw.close();
    }
  } finally {
    client.disconnect();
  }
});
