/**
 * A new version shipped under the canary's upstream name (a reload that changes only its
 * targets) is a new canary to judge: it was not (the canary's settings had not changed, so a
 * promoted canary stayed promoted and the new targets took every request unjudged; in a fleet a
 * canary begun again would have joined the fleet's promotion, the state naming only the
 * upstream). Now such a reload starts the canary again from its first step, fleet and all.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;
let newer: CanaryOrigin;
let redis: RedisProcess;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
  newer = await startCanaryOrigin('newer');
  redis = await startRedis();
});

after(() => closeAll(stable, next, newer, redis));

const canary = 'steps: [10, 30], step_interval: 1m, min_requests: 100000';
const config = (nextUrl: string, store: string) => `name: edge
listen:
  - address: 127.0.0.1:0
${store}${canaryRoutes(canary, stable.url, nextUrl)}`;

for (const fleet of [false, true]) {
  test(`a reload that gives a promoted canary's upstream new targets starts it again at its first step${fleet ? ' (in a fleet)' : ''}`, async () => {
    const store = fleet ? `store:\n  redis: { url: "${redis.url}", timeout: 2s }\n` : '';
    const gw = await startGatewayFromText(config(next.url, store));
    try {
      const canaryOf = () => gw.gateway.canaries()[0];
      await waitUntil('the first step', () => canaryOf()?.share === 10, 15_000);
      const promoted = await gw.gateway.canary('api', 'promote', 'ops');
      assert.ok('status' in promoted && promoted.status.phase === 'promoted');

      await gw.gateway.reload(parseConfig(config(newer.url, store), '<test>'));
      await waitUntil('the new version at its first step', () => canaryOf()?.share === 10, 15_000);
      const started = canaryOf();
      assert.equal(started.phase, 'running');
      assert.equal(started.step, 1);
      assert.deepEqual([started.actions.at(-1)?.action, started.actions.at(-1)?.who], ['start', 'config']);
      const load = await paceLoad(gw.url, 200, () => false, 200);
      assert.equal((load.bodies.stable ?? 0) + (load.bodies.newer ?? 0), 200);
      assert.ok((load.bodies.stable ?? 0) > 100, `the baseline takes most: ${JSON.stringify(load.bodies)}`);
    } finally {
      await gw.close();
    }
  });
}
