/**
 * The canary's admin API on a real `candor serve --workers 2` (issue 36): GET /canary, the
 * actions (pause, start, promote, rollback) with their exact answers and log lines, PUT
 * /routes/split reaching both workers, and a 400 naming the field for what cannot apply.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { paceLoad } from '../../helpers/canary-origin.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type CanaryGateway, startCanaryGateway } from './canary-fixture.ts';

let gw: CanaryGateway;

before(async () => {
  // Never judged (too few requests), so only the operator moves it.
  gw = await startCanaryGateway('steps: [10, 30], step_interval: 1s, min_requests: 100000', 2);
  await gw.serve.waitForLines('canary step', 1);
});
after(() => closeAll(gw));

const canaryOf = async () => {
  const { status, body } = await gw.call('GET', '/canary');
  assert.equal(status, 200);
  return (body.canaries as Record<string, unknown>[])[0];
};

test('GET /canary: the route, both sides, phase, share and step', async () => {
  const canary = await canaryOf();
  assert.deepEqual(
    { ...canary, started_at: undefined, actions: undefined, last_verdict: undefined },
    {
      route: 'api',
      baseline: 'stable',
      canary: 'next',
      phase: 'running',
      share: 10,
      step: 1,
      steps: [10, 30],
      started_at: undefined,
      reason: null,
      failed_metric: null,
      last_verdict: undefined,
      actions: undefined,
      // No fleet (no store.redis): nothing to be unreachable.
      fleet_error: null,
    },
  );
});

test('pause, start, promote and rollback: each answered with the canary, logged with who, named alike in the log, the API and the timeline; a repeat is a 409', async () => {
  const paused = await gw.call('POST', '/canary/pause', { route: 'api' });
  assert.equal(paused.status, 200);
  assert.equal((paused.body.canary as Record<string, unknown>).phase, 'paused');
  const again = await gw.call('POST', '/canary/pause', { route: 'api' });
  assert.equal(again.status, 409);
  assert.equal(again.body.detail, 'the canary of route "api" is not running (paused)');

  const started = await gw.call('POST', '/canary/start', { route: 'api' });
  assert.equal((started.body.canary as Record<string, unknown>).phase, 'running');
  assert.equal((started.body.canary as Record<string, unknown>).share, 10, 'on from the step it paused at');

  const promoted = await gw.call('POST', '/canary/promote', { route: 'api' });
  assert.equal((promoted.body.canary as Record<string, unknown>).share, 100);
  const toNext = await paceLoad(gw.base, 200, () => false, 60);
  assert.equal(toNext.bodies.next, 60, 'promoted: both workers send everything to the canary');

  const rolledBack = await gw.call('POST', '/canary/rollback', { route: 'api' });
  assert.equal(rolledBack.status, 200);
  const canary = rolledBack.body.canary as Record<string, unknown>;
  assert.equal(canary.phase, 'rolled_back');
  assert.equal(canary.share, 0);
  assert.match(String(canary.reason), /^rolled back by admin 127\.0\.0\.1:\d+$/);
  const toStable = await paceLoad(gw.base, 200, () => false, 60);
  assert.equal(toStable.bodies.stable, 60, 'rolled back in both workers');

  const actions = gw.linesOf('canary action').map((l) => [l.action, String(l.who).replace(/:\d+$/, '')]);
  assert.deepEqual(actions.slice(-4), [
    ['pause', 'admin 127.0.0.1'],
    ['start', 'admin 127.0.0.1'],
    ['promote', 'admin 127.0.0.1'],
    ['rollback', 'admin 127.0.0.1'],
  ]);
  assert.equal((await gw.call('POST', '/canary/rollback', { route: 'api' })).status, 409);
  // One vocabulary: GET /canary's actions and the deploy timeline's events name them as the log does.
  const named = ['pause', 'start', 'promote', 'rollback'];
  const listed = (canary.actions as { action: string }[]).map((a) => a.action);
  assert.deepEqual(listed.slice(-4), named);
  const events = (await gw.call('GET', '/events')).body.events as Record<string, unknown>[];
  const timeline = events.filter((e) => e.kind === 'canary').map((e) => e.action);
  assert.deepEqual(timeline.slice(-4), named);
  // abort is the rollback by its other name: the same action, logged as rollback (already rolled back here).
  const aborted = await gw.call('POST', '/canary/abort', { route: 'api' });
  assert.equal(aborted.status, 409);
  assert.equal(aborted.body.detail, 'the canary of route "api" is already rolled back');
});

test('an unknown route or a missing one is a 400 naming the field', async () => {
  const unknown = await gw.call('POST', '/canary/start', { route: 'nope' });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.field, 'route');
  assert.equal(unknown.body.detail, 'route: route "nope" has no canary');
  const missing = await gw.call('POST', '/canary/pause', {});
  assert.equal(missing.status, 400);
  assert.equal(missing.body.field, 'route');
});

test('PUT /routes/split weighs the sides in both workers and pauses the canary at that share; an upstream the route does not split is refused', async () => {
  const set = await gw.call('PUT', '/routes/split', {
    route: 'api',
    sides: [
      { upstream: 'next', weight: 1 },
      { upstream: 'stable', weight: 0 },
    ],
  });
  assert.equal(set.status, 200);
  assert.deepEqual((set.body.workers as { confirmed: number[] }).confirmed.length, 2);
  const seen = await paceLoad(gw.base, 200, () => false, 60);
  assert.equal(seen.bodies.next, 60);
  // The canary pauses at the share set by hand, and GET /canary says it (no step moves it now).
  let canary = await canaryOf();
  for (let tries = 0; canary.phase !== 'paused' && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    canary = await canaryOf();
  }
  assert.deepEqual([canary.phase, canary.share], ['paused', 100]);
  assert.match(String(canary.reason), /^share set by hand to 100% by admin 127\.0\.0\.1:\d+$/);
  const wrong = await gw.call('PUT', '/routes/split', {
    route: 'api',
    sides: [{ upstream: 'other', weight: 1 }],
  });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.field, 'sides[0].upstream');
  assert.equal(
    wrong.body.detail,
    'sides[0].upstream: route "api" splits between "next" and "stable", not "other"',
  );
  const weight = await gw.call('PUT', '/routes/split', {
    route: 'api',
    sides: [{ upstream: 'next', weight: 1001 }],
  });
  assert.equal(weight.status, 400);
  assert.equal(weight.body.field, 'sides[0].weight');
});

test('a reload that keeps the canary keeps its state; one without it drops its split, with a line', async () => {
  const before = await canaryOf();
  const kept = await gw.call('POST', '/reload');
  assert.equal(kept.status, 200);
  const after = await canaryOf();
  assert.deepEqual(
    [after.phase, after.share, after.started_at],
    [before.phase, before.share, before.started_at],
  );
  const text = readFileSync(gw.path, 'utf8').replace(/\n {4}canary: .*\n/, '\n');
  writeFileSync(gw.path, text);
  const dropped = await gw.call('POST', '/reload');
  assert.equal(dropped.status, 200);
  const outcome = (dropped.body as { outcome: { dropped_changes: string[] } }).outcome;
  assert.deepEqual(outcome.dropped_changes, ['split of route "api"']);
  await gw.serve.waitForLines('runtime change dropped: its target or route left the config', 1);
  assert.ok(
    gw.serve.lines.some(
      (l) =>
        l.msg === 'runtime change dropped: its target or route left the config' &&
        l.change === 'split of route "api"',
    ),
  );
  assert.deepEqual((await gw.call('GET', '/canary')).body, { canaries: [] });
  const seen = await paceLoad(gw.base, 200, () => false, 40);
  assert.equal(seen.bodies.stable, 40, "no canary: every request to the route's upstream");
});
