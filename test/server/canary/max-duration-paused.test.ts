/**
 * A canary's `max_duration` bounds the time it ran, not the time since it started: a canary an
 * operator paused for longer than `max_duration` and then started again is not failed at its
 * first look for the pause (it was, "too few requests to judge within max_duration"), and is
 * still failed once it has run that long in all. One paused by max_duration itself (`on_failure:
 * pause`) and started again gets max_duration anew: it had no time left, and was paused again at
 * its first look (the operator's only way on was a rollback).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startRedis } from '../../helpers/redis-server.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { type CanaryGateway, canaryRoutes, startCanaryGateway } from './canary-fixture.ts';

let gw: CanaryGateway;

before(async () => {
  // Never judged (too few requests): only max_duration can end it.
  gw = await startCanaryGateway(
    'steps: [10], step_interval: 1s, check_interval: 250ms, min_requests: 100000, max_duration: 3s',
  );
  await gw.serve.waitForLines('canary step', 1);
});
after(() => closeAll(gw));

const canaryOf = async () => {
  const { status, body } = await gw.call('GET', '/canary');
  assert.equal(status, 200);
  return (body.canaries as Record<string, unknown>[])[0];
};

/** Polls GET /canary (bounded; the bound is never asserted) until `done` holds of it. */
async function canaryWhen(done: (c: Record<string, unknown>) => boolean, what: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const canary = await canaryOf();
    if (done(canary)) return canary;
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}: ${JSON.stringify(canary)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a canary paused past max_duration and started again runs on from its step, and fails once it has run max_duration in all', async () => {
  const paused = await gw.call('POST', '/canary/pause', { route: 'api' });
  assert.equal(paused.status, 200);
  assert.equal((paused.body.canary as Record<string, unknown>).phase, 'paused');
  // Paused longer than max_duration (3 s).
  await new Promise((resolve) => setTimeout(resolve, 3500));
  const resumedAt = Date.now();
  const started = await gw.call('POST', '/canary/start', { route: 'api' });
  assert.equal(started.status, 200);
  assert.equal((started.body.canary as Record<string, unknown>).phase, 'running');
  // The first look after the start.
  const looked = await canaryWhen((c) => {
    const at = (c.last_verdict as { at: string } | null)?.at;
    return c.phase !== 'running' || (at !== undefined && Date.parse(at) >= resumedAt);
  }, 'a look after the start');
  assert.equal(looked.phase, 'running', String(looked.reason));
  assert.equal(looked.reason, null);
  assert.equal(looked.share, 10);
  // Still bounded: once it has run max_duration in all, short of requests, on_failure (rollback).
  const ended = await canaryWhen((c) => c.phase !== 'running', 'max_duration');
  assert.equal(ended.phase, 'rolled_back');
  assert.equal(ended.failed_metric, 'max_duration');
  assert.match(String(ended.reason), /^too few requests to judge within max_duration \(/);
});

/** Paused by max_duration (`on_failure: pause`), weighed by hand then or not, started again. */
async function startedAfterMaxDuration(byHand: boolean) {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  const lib = await startGatewayFromText(`name: max-duration-pause
listen:
  - address: 127.0.0.1:0
${canaryRoutes('steps: [10], step_interval: 1s, check_interval: 250ms, min_requests: 100000, max_duration: 2s, on_failure: pause', stable.url, next.url)}`);
  const canary = () => lib.gateway.canaries()[0];
  try {
    await waitUntil('max_duration pausing it', () => canary()?.phase === 'paused', 40_000);
    assert.equal(canary().failed_metric, 'max_duration');
    assert.equal(canary().share, 10);
    if (byHand) {
      lib.gateway.apply({
        kind: 'split',
        route: 'api',
        sides: [
          { upstream: 'next', weight: 20 },
          { upstream: 'stable', weight: 80 },
        ],
      });
      await waitUntil('the hand', () => canary().reason?.startsWith('share set by hand') === true, 40_000);
    }
    const resumedAt = Date.now();
    const started = await lib.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started && started.status.phase === 'running', JSON.stringify(started));
    const lookedAfter = () => {
      const at = canary().last_verdict?.at;
      return canary().phase !== 'running' || (at !== undefined && Date.parse(at) >= resumedAt);
    };
    await waitUntil('a look after the start', lookedAfter, 40_000);
    // Before: paused again at once, "too few requests to judge within max_duration".
    assert.equal(canary().phase, 'running', canary().reason ?? '');
    assert.equal(canary().reason, null);
    assert.equal(canary().share, 10);
    // Still bounded: max_duration later, still short of requests, paused again.
    await waitUntil('max_duration again', () => canary().phase !== 'running', 40_000);
    assert.equal(canary().phase, 'paused');
    assert.equal(canary().failed_metric, 'max_duration');
    const pauses = lib.logs.filter((l) => l.msg === 'canary action' && l.action === 'pause');
    assert.equal(pauses.length, byHand ? 3 : 2);
  } finally {
    await lib.close();
    await stable.close();
    await next.close();
  }
}

test(
  'a canary paused by max_duration (on_failure: pause) and started again gets max_duration again: it runs on from its step, not paused again at its first look',
  {
    timeout: 60_000,
  },
  () => startedAfterMaxDuration(false),
);

test(
  'so does one paused by max_duration and then weighed by hand: it had no time left either',
  {
    timeout: 60_000,
  },
  () => startedAfterMaxDuration(true),
);

test('in a fleet: paused by max_duration and started on the gateway that does not judge, the one that does gives it max_duration again', {
  timeout: 90_000,
}, async () => {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  const redis = await startRedis();
  const text = `name: max-duration-fleet
listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url}", timeout: 2s }
${canaryRoutes('steps: [10], step_interval: 1s, check_interval: 250ms, min_requests: 100000, max_duration: 3s, on_failure: pause', stable.url, next.url)}`;
  const a = await startGatewayFromText(text);
  const b = await startGatewayFromText(text);
  try {
    const both = [a, b];
    await waitUntil(
      'max_duration pausing both',
      () => both.every((gw) => gw.gateway.canaries()[0]?.phase === 'paused'),
      40_000,
    );
    const judge = both.find((gw) =>
      gw.logs.some((l) => l.msg === 'canary worse' && l.metric === 'max_duration'),
    );
    assert.ok(judge !== undefined, 'one gateway judged');
    const other = judge === a ? b : a;
    const resumedAt = Date.now();
    const started = await other.gateway.canary('api', 'start', 'ops');
    assert.ok('status' in started && started.status.phase === 'running', JSON.stringify(started));
    const judged = () => judge.gateway.canaries()[0];
    await waitUntil(
      'the judge looking after the start',
      () => {
        const at = judged().last_verdict?.at;
        return at !== undefined && Date.parse(at) >= resumedAt;
      },
      40_000,
    );
    // Before: the judge adopted the start with the time it had run, none left, and paused it again.
    assert.equal(judged().phase, 'running', judged().reason ?? '');
    assert.equal(judged().reason, null);
  } finally {
    await b.close();
    await a.close();
    await redis.kill();
    await stable.close();
    await next.close();
  }
});
