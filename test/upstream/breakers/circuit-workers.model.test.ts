/**
 * A model of one upstream's circuit in a `candor serve --workers 2`: each worker's circuit judged
 * by its own requests (judgeCircuit), its news applied to the other's at once (applyCircuitNews),
 * as the primary relays it. Time is a number the steps move on; no clock is read. With the news
 * told at once, both workers read one state after every step, and no worker lets a request
 * through while the open time the last opening announced runs, so a dead upstream gets one
 * probe each `open_time` from the gateway, not one from each worker (docs/limits.md, "passive
 * ejection, circuit breaker": each worker applies another's news for the time it has left).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createCircuit } from '../../../src/core/retry/circuit.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import {
  applyCircuitNews,
  type CircuitNews,
  judgeCircuit,
} from '../../../src/upstream/breakers/upstream-circuit.ts';

const config = { consecutiveFailures: 2, openTime: 1000, halfOpenRequests: 1 };

/** One request: on which worker, how long after the last, and whether the upstream fails it. */
const step = fc.record({
  worker: fc.integer({ min: 0, max: 1 }),
  after: fc.integer({ min: 0, max: 1500 }),
  fails: fc.boolean(),
});

test('two workers told at once read one circuit state, and none lets a request through an announced open time', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
      const lines: Record<string, unknown>[] = [];
      const logger = createLoggerOn({ write: (line) => lines.push(JSON.parse(line)) }, 'info', 'model');
      const circuits = [createCircuit(config), createCircuit(config)];
      let now = 0;
      // The end of the open time the last opening announced, gateway-wide.
      let openUntil = 0;
      let openings = 0;
      for (const { worker, after, fails } of steps) {
        now += after;
        const circuit = circuits[worker];
        const admitted = circuit.admit(now);
        if (!admitted.allowed) continue;
        assert.ok(
          now >= openUntil,
          `worker ${worker} let a request through at ${now}, in an open time to ${openUntil}`,
        );
        const announce = (news: CircuitNews) => {
          if (news.candor === 'circuit-opened') openUntil = now + news.forMs;
          applyCircuitNews(circuits[1 - worker], news, now);
        };
        const sinks = { logger, metrics: { circuitOpened: () => openings++ }, announce };
        judgeCircuit(circuit, 'app', fails ? 'connection_refused' : undefined, admitted.probe, now, sinks);
        assert.equal(circuits[0].stateAt(now), circuits[1].stateAt(now), `the workers disagree at ${now}`);
      }
      // Each opening is one line and one count, whichever worker made it.
      assert.equal(lines.filter((l) => l.msg === 'circuit opened').length, openings);
    }),
    { numRuns: 2000 },
  );
});
