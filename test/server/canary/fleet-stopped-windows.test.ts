/**
 * In a fleet (`store.redis`) a gateway shares its counts while the canary runs. Rolled back (or
 * promoted), its baseline's requests (or its own) went on being added to the fleet's list at
 * every look, which nobody takes while the canary is stopped: up to 256 windows of 3 KB a route,
 * rewritten forever, and judged at the canary's next start as if they were its first step's.
 * A library gateway on a real Redis, one gateway of a fleet: the start after a rollback is
 * judged on what came after it (nothing here), and the list stays empty while it is stopped.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
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

after(() => closeAll(stable, next, redis));

test("a fleet's canary stopped adds no counts to the fleet, and its next start is judged on its own", async () => {
  // Never judged (min_requests out of reach), never moved by a step: only the operator moves it.
  const canary = 'steps: [10, 30], step_interval: 10s, check_interval: 200ms, min_requests: 100000';
  const gw = await startGatewayFromText(`name: fleet-edge
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes(canary, stable.url, next.url)}`);
  const client = new Redis(redis.url);
  try {
    const canaryOf = () => gw.gateway.canaries()[0];
    await waitUntil('the first step', () => canaryOf()?.share === 10, 15_000);
    const rolledBack = await gw.gateway.canary('api', 'rollback', 'ops');
    assert.ok('status' in rolledBack && rolledBack.status.phase === 'rolled_back');
    // The baseline's requests while the canary is rolled back: many looks' worth (one each 200 ms).
    const load = await paceLoad(gw.url, 200, () => false, 300);
    assert.equal(load.bodies.stable, 300);
    assert.equal(await client.llen('candor:canary:api:counts'), 0, 'no window added while rolled back');

    const started = await gw.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started && started.status.phase === 'running');
    await waitUntil(
      'two looks at the new first step',
      () => (canaryOf().last_verdict?.look ?? 0) >= 2,
      15_000,
    );
    // No request since the start: the rolled-back period's 300 are not this step's.
    assert.deepEqual(canaryOf().last_verdict?.requests, { canary: 0, baseline: 0 });
  } finally {
    client.disconnect();
    await gw.close();
  }
});
