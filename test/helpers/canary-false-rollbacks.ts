/**
 * How often a healthy canary is rolled back, on simulated counts (canary-traffic.ts): the figures
 * docs/canary.md gives. Each run is a canary of the defaults (steps 5, 25, 50 %, four looks a
 * step, 99 %) at 200 requests a second, both sides failing alike, judged three ways on the same
 * counts: with the looks corrected (step-looks.ts, what the controller does), with every look
 * given the whole 1 − confidence, and once at each step's end. Run by hand, it takes a while:
 *
 *   node test/helpers/canary-false-rollbacks.ts 1000
 */
import { DEFAULTS } from '../../src/core/config/defaults.ts';
import type { CanaryConfig } from '../../src/core/config/types.ts';
import { mergeWindows, type WindowCounts } from '../../src/upstream/canary/canary-window.ts';
import { judgeWindow } from '../../src/upstream/canary/judge.ts';
import { StepLooks } from '../../src/upstream/canary/step-looks.ts';
import { HEALTHY, seeded, simulatedWindow } from './canary-traffic.ts';

const config: CanaryConfig = {
  upstream: 'next',
  steps: [...DEFAULTS.canary.steps],
  stepInterval: DEFAULTS.canary.stepInterval,
  checkInterval: DEFAULTS.canary.stepInterval / DEFAULTS.canary.looksPerStep,
  minRequests: DEFAULTS.canary.minRequests,
  maxDuration: DEFAULTS.canary.maxDuration,
  compare: [...DEFAULTS.canary.compare],
  confidence: DEFAULTS.canary.confidence,
  latencyMargin: DEFAULTS.canary.latencyMargin,
  latencyP99Factor: DEFAULTS.canary.latencyP99Factor,
  baselineMaxFailedPercent: DEFAULTS.canary.baselineMaxFailedPercent,
  onFailure: 'rollback',
  onSuccess: 'promote',
};
const runs = Number(process.argv[2] ?? 100);
const perLook = (200 * config.checkInterval) / 1000;
const counted = { corrected: 0, everyLookWhole: 0, onceAtStepEnd: 0 };
for (let run = 1; run <= runs; run++) {
  const rng = seeded(run);
  const rolledBack = { corrected: false, everyLookWhole: false, onceAtStepEnd: false };
  for (const share of config.steps) {
    const looks = new StepLooks(config);
    let counts: WindowCounts | undefined;
    for (let i = 1; i <= looks.planned; i++) {
      const window = simulatedWindow(rng, share, perLook, { baseline: HEALTHY, canary: HEALTHY });
      const look = looks.look(window);
      counts = counts === undefined ? window : mergeWindows([counts, window]);
      if (look.judged.decided && look.judged.worse !== undefined) rolledBack.corrected = true;
      const whole = judgeWindow(counts, config);
      if (whole.decided && whole.worse !== undefined) {
        rolledBack.everyLookWhole = true;
        if (i === looks.planned) rolledBack.onceAtStepEnd = true;
      }
    }
  }
  for (const way of Object.keys(counted) as (keyof typeof counted)[]) if (rolledBack[way]) counted[way]++;
}
console.log(JSON.stringify({ runs, perLook, falseRollbacks: counted }));
