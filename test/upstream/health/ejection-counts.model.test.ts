/**
 * A model of one target's ejections as its attempts end, through reportOutcome (what the gateway
 * calls once per attempt), against what docs/resilience.md says of the two counters:
 * `increase(candor_target_ejections_total) - increase(candor_target_returns_total)` is how many
 * ejections still hold, and a return never outnumbers its ejections. Time is a number the steps
 * move on (a target's ejection is read at the `now` it is given); no clock is read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../../../src/core/config/load.ts';
import { Failure } from '../../../src/core/failure/failure.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import type { GatewayMetrics } from '../../../src/observe/metrics/metrics.ts';
import { type OutcomeSinks, reportOutcome } from '../../../src/upstream/health/report-outcome.ts';
import { createUpstream } from '../../../src/upstream/targets/upstream.ts';

const YAML = `listen: [{ address: "127.0.0.1:0" }]
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
    circuit_breaker: { consecutive_failures: 0 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 100ms, max_ejection_time: 1s }
`;

/** One attempt at the target: how long after the last one it ends, and whether it failed. */
const attempt = fc.record({ after: fc.integer({ min: 0, max: 400 }), fails: fc.boolean() });

test('ejections less returns is 1 while the target is out (ejected or on probation), 0 once it is back', async () => {
  const config = parseConfig(YAML, '<test>', {}).upstreams.app;
  await fc.assert(
    fc.asyncProperty(fc.array(attempt, { maxLength: 60 }), async (attempts) => {
      const upstream = createUpstream(config);
      try {
        const [target] = upstream.targets;
        const counts = { ejected: 0, returned: 0 };
        const metrics = {
          attempted() {},
          circuitOpened() {},
          ejected: () => counts.ejected++,
          returned: () => counts.returned++,
        } as unknown as GatewayMetrics;
        const logger = createLoggerOn({ write: () => true }, 'info', 'model');
        const sinks: OutcomeSinks = { metrics, logger };
        let now = 1_000;
        for (const { after, fails } of attempts) {
          now += after;
          // The lone target takes every request, ejected or not (panic over ejections).
          const ejectedUntilAtSend = target.ejectedUntil;
          reportOutcome(
            sinks,
            {
              upstream,
              target,
              failure: fails ? new Failure('connection_refused', 'refused') : undefined,
              judged: true,
              reused: false,
              endedInQueue: false,
              releaseTargetProbe: () => {},
              circuitProbe: false,
              retrySlot: undefined,
              bodyToCome: false,
              ejectedUntilAtSend,
              sentEjected: target.isEjected(now),
            },
            now,
          );
          const out = target.ejectedUntil !== 0 ? 1 : 0;
          assert.equal(counts.ejected - counts.returned, out, `at ${now}: ${JSON.stringify(counts)}`);
        }
      } finally {
        await upstream.close();
      }
    }),
    { numRuns: 500 },
  );
});
