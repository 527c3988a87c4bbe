/**
 * An operator's start of a canary whose share was set by hand gives the step's weights to the
 * workers first. When they are refused (a reload took the route's split away meanwhile), the
 * start is answered with a problem that says so and changes nothing: the canary stays paused at
 * the share set by hand, which the workers still have. Before, the refusal rejected the admin
 * call (a 500 `Internal error` with the bare refusal) with the canary left "running" at the
 * step's share, a share no worker had, and no look scheduled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SplitSide } from '../../../src/core/config/types.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { CanaryController } from '../../../src/server/canary/canary-controller.ts';
import { canaryConfig, controllerConfig } from '../../helpers/canary-traffic.ts';
import { waitUntil } from '../../helpers/wait.ts';

test("a start after weights set by hand, the step's weights refused: a problem that says so, the canary paused as it was", async () => {
  const given: (readonly SplitSide[])[] = [];
  let refuse = false;
  const controller = new CanaryController({
    window: async () => undefined,
    setSides: async (_route, sides) => {
      if (refuse) throw new Error('no route "api" in the running config');
      given.push(sides);
    },
    logger: createLoggerOn({ write: () => {} }, 'info', 'test'),
    onEvent: () => {},
  });
  try {
    controller.sync(
      controllerConfig({
        routes: [{ name: 'api', upstream: 'stable', canary: canaryConfig(3_600_000, 3_600_000) }],
        upstreams: { next: { targets: [] } },
      }),
      undefined,
    );
    const canary = () => controller.status()[0];
    await waitUntil('the first step', () => canary().phase === 'running' && canary().step === 1);
    const first = canary().share;
    const hand = [
      { upstream: 'next', weight: 0 },
      { upstream: 'stable', weight: 100 },
    ];
    await controller.byHand('api', hand, 'ops');
    assert.equal(canary().phase, 'paused');
    assert.equal(canary().share, 0);
    const before = given.length;

    refuse = true;
    const refused = await controller.act('api', 'start', 'admin ops');
    assert.deepEqual(refused, {
      problem: `the canary of route "api" was not started: its step's weights (${first}%) were not given to the workers (no route "api" in the running config); it stays paused at 0%`,
    });
    assert.equal(canary().phase, 'paused');
    assert.equal(canary().share, 0);
    assert.equal(canary().reason, 'share set by hand to 0% by ops');
    assert.equal(given.length, before);

    // Given once they are taken: on from its step at the step's share.
    refuse = false;
    const started = await controller.act('api', 'start', 'admin ops');
    assert.ok('status' in started, JSON.stringify(started));
    assert.equal(started.status.phase, 'running');
    assert.equal(started.status.share, first);
    assert.deepEqual(
      given.slice(before).map((sides) => sides.map((s) => `${s.upstream}=${s.weight}`).join(' ')),
      [`next=${first} stable=${100 - first}`],
    );
  } finally {
    controller.close();
  }
});
