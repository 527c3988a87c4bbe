/**
 * A canary whose share was set by hand (which pauses it) and then started again goes on from its
 * step at that step's share: it ran on at the share set by hand, so a canary weighed to 0 (or
 * to 100) by an operator and started again got no requests on one side, was never judged, and
 * was failed at max_duration for "too few requests" it was never given. One rolled back (or
 * promoted) and then weighed by hand starts again from its first step: it went on from the step
 * it was rolled back at, skipping the steps before it. Weights that leave a rolled-back canary
 * at 0 % change nothing: it was paused by them, its reason erased.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { canaryRoutes } from './canary-fixture.ts';

/** A library gateway with the canary route `api` (`canary`: its flow mapping's inside), and its two origins. */
async function startLibrary(canary: string) {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  const gw = await startGatewayFromText(`name: start-after-hand
listen:
  - address: 127.0.0.1:0
${canaryRoutes(canary, stable.url, next.url)}`);
  return {
    gw,
    /** Weighs the canary by hand, as a program does, and waits for the pause it makes. */
    async byHand(next: number, stable: number) {
      gw.gateway.apply({
        kind: 'split',
        route: 'api',
        sides: [
          { upstream: 'next', weight: next },
          { upstream: 'stable', weight: stable },
        ],
      });
      await waitUntil('the pause', () => gw.gateway.canaries()[0].phase === 'paused', 15_000);
    },
    async close() {
      await gw.close();
      await stable.close();
      await next.close();
    },
  };
}

test('a canary weighed to 0 by hand and started again goes on at its step’s share, and its requests reach it', async () => {
  const lib = await startLibrary('steps: [10, 30], step_interval: 1m, min_requests: 100000');
  const { gw } = lib;
  try {
    await waitUntil('the first step', () => gw.logs.some((l) => l.msg === 'canary step'), 15_000);
    await lib.byHand(0, 100);
    assert.equal(gw.gateway.canaries()[0].share, 0);
    const started = await gw.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started, JSON.stringify(started));
    assert.deepEqual([started.status.phase, started.status.step, started.status.share], ['running', 1, 10]);
    const [line] = gw.logs.filter(
      (l) => l.msg === 'canary action' && l.action === 'start' && l.who === 'ops',
    );
    assert.equal(line.share, 10);
    const load = await paceLoad(gw.url, 200, () => false, 400);
    assert.equal(load.statuses[200], 400);
    assert.ok((load.bodies.next ?? 0) > 0, `the canary got none: ${JSON.stringify(load.bodies)}`);
    assert.ok((load.bodies.stable ?? 0) > 0, JSON.stringify(load.bodies));
  } finally {
    await lib.close();
  }
});

test('a canary rolled back at its second step, weighed by hand and started again starts from its first step', async () => {
  const lib = await startLibrary(
    'steps: [10, 30], step_interval: 1s, check_interval: 250ms, min_requests: 20',
  );
  const { gw } = lib;
  const steps = () => gw.logs.filter((l) => l.msg === 'canary step').map((l) => l.share);
  try {
    const load = await paceLoad(gw.url, 200, () => steps().length > 1, 20_000);
    assert.deepEqual(steps(), [10, 30], JSON.stringify(load.statuses));
    const rolledBack = await gw.gateway.canary('api', 'rollback', 'ops');
    assert.ok('status' in rolledBack && rolledBack.status.step === 2, JSON.stringify(rolledBack));
    await lib.byHand(1, 99);
    const started = await gw.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started, JSON.stringify(started));
    assert.deepEqual([started.status.phase, started.status.step, started.status.share], ['running', 1, 10]);
    assert.deepEqual(steps(), [10, 30, 10]);
  } finally {
    await lib.close();
  }
});

test('weights set by hand that leave a rolled-back canary at 0 % change nothing: it stays rolled back, with its reason', async () => {
  const lib = await startLibrary('steps: [10, 30], step_interval: 1m, min_requests: 100000');
  const { gw } = lib;
  try {
    await waitUntil('the first step', () => gw.logs.some((l) => l.msg === 'canary step'), 15_000);
    await gw.gateway.canary('api', 'rollback', 'ops');
    gw.gateway.apply({ kind: 'split', route: 'api', sides: [{ upstream: 'stable', weight: 50 }] });
    // A share set by hand that differs is taken (and pauses it): the one after shows the first was seen.
    await lib.byHand(10, 90);
    const actions = gw.gateway.canaries()[0].actions.map((a) => [a.action, a.summary]);
    assert.deepEqual(actions.slice(1), [
      ['rollback', 'canary of route api rolled back to 0%: rolled back by ops'],
      ['pause', 'canary of route api paused at 10%: its share set by hand by program'],
    ]);
  } finally {
    await lib.close();
  }
});
