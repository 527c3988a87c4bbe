/**
 * Weights that leave no side any, set at run time, are refused as the config refuses them
 * ("every weight of the split is 0"). Before, `PUT /routes/split` took `next 0, stable 0` on a
 * canary's route (200): a draw gives every request to the split's first side, the canary, and
 * 300 requests of 300 went to it while GET /canary said "paused at 0%" and
 * candor_canary_share_percent said 0 for both sides. A side left out keeps its weight, so
 * `next 0` alone after `stable 0` leaves nothing too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type CanaryGateway, startCanaryGateway } from './canary-fixture.ts';

let gw: CanaryGateway;
before(async () => {
  gw = await startCanaryGateway('steps: [20, 60], step_interval: 10m, max_duration: 1h', 2);
  await gw.serve.waitForLines('canary step', 1);
});
after(() => closeAll(gw));

const canaryOf = async () =>
  ((await gw.call('GET', '/canary')).body.canaries as Record<string, unknown>[])[0];

test('every weight 0 by PUT /routes/split is a 400 naming `sides`; the canary and its requests stay as they were', async () => {
  const none = await gw.call('PUT', '/routes/split', {
    route: 'api',
    sides: [
      { upstream: 'next', weight: 0 },
      { upstream: 'stable', weight: 0 },
    ],
  });
  assert.equal(none.status, 400);
  assert.equal(none.body.field, 'sides');
  assert.equal(
    none.body.detail,
    'sides: every weight of the split would be 0: no request could be sent anywhere',
  );
  const canary = await canaryOf();
  assert.deepEqual([canary.phase, canary.share], ['running', 20]);
  const seen = await paceLoad(gw.base, 200, () => false, 200);
  assert.ok((seen.bodies.stable ?? 0) > 100, `the baseline still takes most: ${JSON.stringify(seen.bodies)}`);

  // The canary given every request by hand, then its own weight 0 alone: the baseline's 0 kept, nothing left.
  const all = await gw.call('PUT', '/routes/split', {
    route: 'api',
    sides: [{ upstream: 'stable', weight: 0 }],
  });
  assert.equal(all.status, 200);
  const left = await gw.call('PUT', '/routes/split', {
    route: 'api',
    sides: [{ upstream: 'next', weight: 0 }],
  });
  assert.equal(left.status, 400);
  assert.equal(left.body.field, 'sides');
  const paused = await canaryOf();
  assert.deepEqual([paused.phase, paused.share], ['paused', 100]);
  const after = await paceLoad(gw.base, 200, () => false, 40);
  assert.equal(after.bodies.next, 40);
});
