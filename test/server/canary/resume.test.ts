/**
 * A canary paused by its verdict (`on_failure: pause`), its upstream then mended, and started
 * again by the operator: it goes on from its step on what it does from then on, not paused again
 * at once on the failures that paused it (the operator's start did nothing before).
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

test('in a fleet: a canary paused by its verdict and started again on the gateway that does not judge is judged afresh by the one that does', {
  timeout: 90_000,
}, async () => {
  next.resetEvery = 2;
  const redis = await startRedis();
  const text = `name: resume-fleet
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes('steps: [30, 60], step_interval: 2s, check_interval: 500ms, min_requests: 20, on_failure: pause, on_success: hold', stable.url, next.url)}`;
  const a = await startGatewayFromText(text);
  let b: Awaited<ReturnType<typeof startGatewayFromText>> | undefined;
  let loading = true;
  let load: Promise<unknown> = Promise.resolve();
  try {
    await until(() => a.logs.some((l) => l.msg === 'canary step'), "A's first step");
    b = await startGatewayFromText(text);
    const gwB = b;
    load = Promise.all([
      paceLoad(a.url, 80, () => !loading, 100_000),
      paceLoad(gwB.url, 80, () => !loading, 100_000),
    ]);
    await until(
      () => [a, gwB].every((gw) => gw.gateway.canaries()[0]?.phase === 'paused'),
      'the verdict pausing both',
    );
    const judge = [a, gwB].find((gw) => gw.logs.some((l) => l.msg === 'canary worse'));
    const other = judge === a ? gwB : a;
    next.resetEvery = 0;
    const started = await other.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started && started.status.phase === 'running', JSON.stringify(started));
    await until(() => judge?.gateway.canaries()[0].phase !== 'paused', 'the judge following the start');
    await until(() => judge?.gateway.canaries()[0].phase !== 'running', 'the steps after the start', 30_000);
    assert.equal(judge?.gateway.canaries()[0].phase, 'held', judge?.gateway.canaries()[0].reason ?? '');
    const worse = [a, gwB].flatMap((gw) => gw.logs).filter((l) => l.msg === 'canary worse');
    assert.equal(worse.length, 1, 'one verdict: the failures before the start, judged once');
  } finally {
    loading = false;
    await load;
    next.resetEvery = 0;
    await b?.close();
    await a.close();
    await redis.kill();
  }
});
