/**
 * GET /status with several workers: a target only some workers have (a discovery answer that
 * reached one worker first, a reload under way) is listed, not dropped from the merged view.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeStatuses } from '../../../src/server/cluster/status-merge.ts';
import type { GatewayStatus, TargetStatus } from '../../../src/server/gateway/status.ts';

function target(
  url: string,
  inFlight: number,
  circuit: TargetStatus['circuit']['state'] = 'closed',
): TargetStatus {
  const until = circuit === 'open' ? '2026-11-28T05:00:00.000Z' : null;
  return {
    url,
    origin: url,
    weight: 1,
    config_weight: 1,
    priority: 0,
    admin: 'enabled',
    health: 'unchecked',
    last_check: null,
    circuit: { state: circuit, open_until: until },
    ejected: circuit === 'open',
    ejected_until: until,
    ejections: 0,
    in_flight: inFlight,
    last_failure: null,
    pool: { open: 1, idle: 1, waiting: 0 },
  };
}

function worker(targets: TargetStatus[]): GatewayStatus {
  return {
    config_hash: 'sha256:0',
    draining: false,
    upstreams: {
      app: {
        circuit: { state: 'closed', open_until: null },
        panic: false,
        in_flight: 0,
        pending: 0,
        retry_budget: { tokens: 1, retries_in_flight: 0 },
        targets,
        discovery: null,
      },
    },
    routes: {},
    store: null,
    auth_hops: {},
  };
}

test('a target one worker has and another not is in the merged status, with that worker’s figures', () => {
  const merged = mergeStatuses([
    { worker: 1, pid: 11, status: worker([target('http://10.0.0.1:80', 1)]) },
    {
      worker: 2,
      pid: 12,
      status: worker([target('http://10.0.0.1:80', 2), target('http://10.0.0.2:80', 3)]),
    },
  ]);
  assert.deepEqual(
    merged.upstreams.app.targets.map((t) => [t.url, t.in_flight, t.pool.open, t.workers_ejecting]),
    [
      ['http://10.0.0.1:80', 3, 2, 0],
      ['http://10.0.0.2:80', 3, 1, 0],
    ],
  );
});

test("a target's circuit is the worst of the workers': a probe pending in one is half_open, an ejection in one open", () => {
  const merged = (...states: TargetStatus['circuit']['state'][]) =>
    mergeStatuses(
      states.map((state, i) => ({
        worker: i + 1,
        pid: 11 + i,
        status: worker([target('http://10.0.0.1:80', 0, state)]),
      })),
    ).upstreams.app.targets[0];
  assert.deepEqual(merged('closed', 'half_open').circuit, { state: 'half_open', open_until: null });
  assert.deepEqual(merged('half_open', 'closed').circuit, { state: 'half_open', open_until: null });
  const open = merged('half_open', 'open', 'closed');
  assert.deepEqual(open.circuit, { state: 'open', open_until: '2026-11-28T05:00:00.000Z' });
  assert.equal(open.ejected, true);
  assert.equal(open.workers_ejecting, 1);
});
