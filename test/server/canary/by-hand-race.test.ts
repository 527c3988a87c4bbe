/**
 * A canary's share set by hand while the controller's look is under way (its fleet's Redis slow
 * to answer, here stopped for a moment): the look that was passing its step must not move the
 * share over the operator's weights, with the status saying the operator's share meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(() => closeAll(stable, next));

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a share set by hand during a look that passes the step stays what requests get, and what the status says', {
  timeout: 60_000,
}, async () => {
  const redis = await startRedis();
  const gw = await startGatewayFromText(`name: by-hand
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes('steps: [20, 50], step_interval: 1s, check_interval: 1s, min_requests: 5', stable.url, next.url)}`);
  let loading = true;
  const load = paceLoad(gw.url, 100, () => !loading, 100_000);
  try {
    const steps = () => gw.logs.filter((l) => l.msg === 'canary step').length;
    const deadline = Date.now() + 20_000;
    while (steps() === 0 && Date.now() < deadline) await pause(20);
    // Its next look (a second on) is held by the fleet's Redis: its counts are in by then.
    await pause(300);
    redis.pause();
    try {
      await pause(1_500);
      gw.gateway.apply({
        kind: 'split',
        route: 'api',
        sides: [
          { upstream: 'next', weight: 0 },
          { upstream: 'stable', weight: 100 },
        ],
      });
    } finally {
      redis.resume();
    }
    while (gw.gateway.canaries()[0]?.phase !== 'paused' && Date.now() < deadline + 10_000) await pause(20);
    loading = false;
    await load;
    const [paused] = gw.gateway.canaries();
    assert.equal(paused.phase, 'paused');
    assert.equal(paused.share, 0);
    const before = next.received;
    const seen = await paceLoad(gw.url, 200, () => false, 60);
    assert.deepEqual(seen.bodies, { stable: 60 }, 'the weights set by hand, not the next step’s');
    assert.equal(next.received, before);
    assert.equal(gw.gateway.canaries()[0].share, 0);
  } finally {
    loading = false;
    await load;
    await gw.close();
    await redis.kill();
  }
});
