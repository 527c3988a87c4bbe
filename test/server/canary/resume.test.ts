/**
 * A canary paused by its verdict (`on_failure: pause`), its upstream then mended, and started
 * again by the operator: it goes on from its step on what it does from then on, not paused again
 * at once on the failures that paused it (the operator's start did nothing before).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { canaryRoutes } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;

before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});

after(async () => {
  await stable.close();
  await next.close();
});

/** Waits (bounded) until `done()`; the machine is loaded, so the bound is generous and never asserted. */
async function until(done: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a canary paused by its verdict and started again is judged on what it does after the start', {
  timeout: 60_000,
}, async () => {
  next.resetEvery = 2;
  const gw = await startGatewayFromText(`name: resume
listen:
  - address: 127.0.0.1:0
${canaryRoutes('steps: [30, 60], step_interval: 2s, check_interval: 500ms, min_requests: 20, on_failure: pause, on_success: hold', stable.url, next.url)}`);
  let loading = true;
  const load = paceLoad(gw.url, 150, () => !loading, 100_000);
  try {
    const canary = () => gw.gateway.canaries()[0];
    await until(() => canary()?.phase === 'paused', 'the verdict pausing it');
    assert.equal(canary().failed_metric, 'reset');
    next.resetEvery = 0;
    const started = await gw.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started && started.status.phase === 'running', JSON.stringify(started));
    await until(() => canary().phase !== 'running', 'the steps after the start');
    assert.equal(canary().phase, 'held', canary().reason ?? '');
    const pauses = gw.logs.filter((l) => l.msg === 'canary action' && l.action === 'pause');
    assert.equal(pauses.length, 1, 'paused once, by the failures before the start');
  } finally {
    loading = false;
    await load;
    next.resetEvery = 0;
    await gw.close();
  }
});
