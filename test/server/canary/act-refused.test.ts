/**
 * The canary's weights refused by the workers (a reload took the route's split away meanwhile):
 * an operator's rollback, promotion or start from the beginning is answered with a problem that
 * says so (the admin API's 409), and the canary stays as it was, at the share the workers still
 * have. Before, the refusal rejected the admin call (a bare 500) and left the canary "rolled
 * back" at 0 %, "promoted" at 100 % or "running" at its first step, a share no worker had. The
 * controller's own step is taken only once the workers took its share.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SplitSide } from '../../../src/core/config/types.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { CanaryController } from '../../../src/server/canary/canary-controller.ts';
import { canaryConfig, controllerConfig } from '../../helpers/canary-traffic.ts';
import { waitUntil } from '../../helpers/wait.ts';

const REFUSAL = 'no route "api" in the running config';

function controllerOn(refused: () => boolean) {
  const given: (readonly SplitSide[])[] = [];
  const lines: Record<string, unknown>[] = [];
  const controller = new CanaryController({
    window: async () => undefined,
    setSides: async (_route, sides) => {
      if (refused()) throw new Error(REFUSAL);
      given.push(sides);
    },
    logger: createLoggerOn({ write: (line: string) => lines.push(JSON.parse(line)) }, 'info', 'test'),
    onEvent: () => {},
  });
  controller.sync(
    controllerConfig({
      routes: [{ name: 'api', upstream: 'stable', canary: canaryConfig(3_600_000, 3_600_000) }],
      upstreams: { next: { targets: [] } },
    }),
    undefined,
  );
  return { controller, given, lines, canary: () => controller.status()[0] };
}

test('a rollback, a promotion and a start refused by the workers: a problem that says so, the canary as it was', async () => {
  let refuse = false;
  const { controller, given, canary } = controllerOn(() => refuse);
  try {
    await waitUntil('the first step', () => canary().phase === 'running' && canary().step === 1);
    const first = canary().share;
    const before = given.length;

    refuse = true;
    assert.deepEqual(await controller.act('api', 'rollback', 'admin ops'), {
      problem: `the canary of route "api" was not rolled back: its weights (0%) were not given to the workers (${REFUSAL}); it stays running at ${first}%`,
    });
    assert.deepEqual([canary().phase, canary().share, canary().step], ['running', first, 1]);
    assert.deepEqual(await controller.act('api', 'promote', 'admin ops'), {
      problem: `the canary of route "api" was not promoted: its weights (100%) were not given to the workers (${REFUSAL}); it stays running at ${first}%`,
    });
    assert.deepEqual([canary().phase, canary().share, canary().reason], ['running', first, null]);
    assert.equal(given.length, before);

    refuse = false;
    const back = await controller.act('api', 'rollback', 'admin ops');
    assert.ok('status' in back, JSON.stringify(back));
    assert.deepEqual([back.status.phase, back.status.share], ['rolled_back', 0]);

    refuse = true;
    assert.deepEqual(await controller.act('api', 'start', 'admin ops'), {
      problem: `the canary of route "api" was not started: its first step's weights (${first}%) were not given to the workers (${REFUSAL}); it stays rolled_back at 0%`,
    });
    assert.deepEqual(
      [canary().phase, canary().share, canary().reason],
      ['rolled_back', 0, 'rolled back by admin ops'],
    );

    refuse = false;
    const started = await controller.act('api', 'start', 'admin ops');
    assert.ok('status' in started, JSON.stringify(started));
    assert.deepEqual(
      [started.status.phase, started.status.share, started.status.step],
      ['running', first, 1],
    );
  } finally {
    controller.close();
  }
});

test("the first step's weights refused by the workers: the canary is not at the step's share, its status says it did not start, and a start begins it once they are taken", async () => {
  let refuse = true;
  const { controller, given, lines, canary } = controllerOn(() => refuse);
  try {
    await waitUntil('the start failed', () => lines.some((l) => l.msg === 'canary failed to start'));
    assert.deepEqual([canary().share, canary().step], [0, 0]);
    assert.equal(given.length, 0);
    // Not "running" at 0 % with no look to come: stopped, and why, until an operator starts it.
    const first = canaryConfig(3_600_000, 3_600_000).steps[0];
    const why = `not started: its weights were not given to the workers (${REFUSAL})`;
    assert.deepEqual([canary().phase, canary().reason, canary().failed_metric], ['paused', why, null]);
    assert.deepEqual(
      canary()
        .actions.slice(-1)
        .map((a) => [a.action, a.who, a.summary]),
      [['pause', 'canary', `canary of route api paused at 0%: ${why}`]],
    );

    refuse = false;
    const started = await controller.act('api', 'start', 'admin ops');
    assert.ok('status' in started, JSON.stringify(started));
    assert.deepEqual(
      [started.status.phase, started.status.share, started.status.step, started.status.reason],
      ['running', first, 1, null],
    );
    assert.equal(given.length, 1);
  } finally {
    controller.close();
  }
});
