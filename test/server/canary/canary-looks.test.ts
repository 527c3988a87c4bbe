/**
 * The canary controller on simulated counts (issue 36): each look of a step gets one check
 * interval of traffic at 200 requests a second drawn by a seeded generator, so twenty whole
 * canaries run in seconds and each run is the same every time. A healthy canary, failing as
 * its baseline does, is promoted twenty runs in twenty, each step passed only at its last look
 * (the looks before it spend part of the confidence, step-looks.ts); one resetting 5 % of its
 * requests is rolled back within two step intervals. The same on real sockets, once each:
 * canary-verdicts.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CanaryConfig } from '../../../src/core/config/types.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { CanaryController } from '../../../src/server/canary/canary-controller.ts';
import type { WindowCounts } from '../../../src/upstream/canary/canary-window.ts';
import {
  canaryConfig,
  controllerConfig,
  HEALTHY,
  seeded,
  simulatedWindow,
  type VersionFaults,
} from '../../helpers/canary-traffic.ts';

/** The defaults but the time: a step is 4 looks (a minute at 15 s) run as fast as timers go. */
const CANARY: CanaryConfig = canaryConfig(40, 10);
/** 200 requests a second over a 15 s check interval. */
const PER_LOOK = 200 * 15;

interface Run {
  /** The controller's log lines. */
  readonly lines: Record<string, unknown>[];
  /** Each window the controller took (the first, at 0 %, is thrown away by it). */
  readonly windows: WindowCounts[];
  readonly outcome: string;
}

/** One canary from its start to its promotion, rollback or hold, on simulated counts. */
async function runCanary(
  seed: number,
  canary: CanaryConfig,
  faults: { baseline: VersionFaults; canary: VersionFaults },
): Promise<Run> {
  const rng = seeded(seed);
  const lines: Record<string, unknown>[] = [];
  const windows: WindowCounts[] = [];
  let share = 0;
  let over: (outcome: string) => void = () => {};
  const outcome = new Promise<string>((resolve) => {
    over = resolve;
  });
  const controller = new CanaryController({
    async window() {
      const window = simulatedWindow(rng, share, PER_LOOK, faults);
      windows.push(window);
      // A bound in looks, not in time: a canary that never ends fails the test.
      if (windows.length > 100) over('no verdict after 100 looks');
      return window;
    },
    async setSides(_route, sides) {
      share = sides.find((s) => s.upstream === 'next')?.weight ?? 0;
    },
    logger: createLoggerOn(
      {
        write(line: string) {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (
            parsed.msg === 'canary action' &&
            ['promote', 'rollback', 'hold'].includes(String(parsed.action))
          )
            over(String(parsed.action));
        },
      },
      'info',
      'simulated',
    ),
    onEvent: () => {},
  });
  // The controller's timers do not hold the process open: this one does, until the run is over.
  const alive = setInterval(() => {}, 1000);
  try {
    controller.sync(
      controllerConfig({
        routes: [{ name: 'api', upstream: 'stable', canary }],
        // What the controller reads of the upstreams: the canary's targets (its version).
        upstreams: { next: { targets: [] } },
      }),
      undefined,
    );
    return { lines, windows, outcome: await outcome };
  } finally {
    controller.close();
    clearInterval(alive);
  }
}

const linesOf = (run: Run, msg: string) => run.lines.filter((l) => l.msg === msg);

test('a healthy canary is promoted with no false rollback in 20 runs, each step passed at its last look', async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const run = await runCanary(seed, CANARY, { baseline: HEALTHY, canary: HEALTHY });
    assert.equal(run.outcome, 'promote', `run ${seed}: ${JSON.stringify(linesOf(run, 'canary worse'))}`);
    assert.deepEqual(linesOf(run, 'canary worse'), [], `run ${seed}`);
    const passed = linesOf(run, 'canary step passed');
    assert.deepEqual(
      passed.map((l) => [l.share, l.look, l.looks]),
      [
        [5, 4, 4],
        [25, 4, 4],
        [50, 4, 4],
      ],
      `run ${seed}: every step is looked at four times and passed at the fourth`,
    );
    // Each step was judged on its own counts: the 4 windows of its looks, every side past min_requests.
    for (const line of passed) {
      const requests = line.requests as { canary: number; baseline: number };
      assert.ok(requests.canary >= CANARY.minRequests && requests.baseline >= CANARY.minRequests);
    }
    assert.equal(run.windows.length, 1 + 3 * 4, 'one window thrown away at the start, then 4 looks a step');
  }
});

test('a canary resetting 5 % of its requests at 200 a second is rolled back within two step intervals; under 1 % failed', async () => {
  const canary = { ...CANARY, steps: [10, 30] };
  for (let seed = 1; seed <= 5; seed++) {
    const run = await runCanary(seed, canary, {
      baseline: { reset: 0, slow: 0, status5xx: 0, extraMs: 0 },
      canary: { reset: 0.05, slow: 0, status5xx: 0, extraMs: 0 },
    });
    assert.equal(run.outcome, 'rollback', `run ${seed}`);
    const [worse] = linesOf(run, 'canary worse');
    assert.equal(worse.metric, 'reset');
    assert.equal(worse.step, 1);
    assert.ok(
      Number(worse.look) <= 2 * Number(worse.looks),
      `run ${seed}: rolled back at look ${worse.look}`,
    );
    // What the users saw until then: the windows of the looks up to the rollback (not the first, at 0 %).
    const seen = run.windows.slice(1);
    const all = seen.reduce((n, w) => n + w.canary.requests + w.baseline.requests, 0);
    const failed = seen.reduce((n, w) => n + w.canary.reset + w.baseline.reset, 0);
    assert.ok(failed > 0 && failed < all / 100, `run ${seed}: ${failed} of ${all} failed`);
  }
});
