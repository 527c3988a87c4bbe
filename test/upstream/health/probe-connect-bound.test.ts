/**
 * A probe connects as a pool connection of its upstream does: bounded by the upstream's
 * `timeouts.connect` when it is shorter than the check's `timeout` (a target that connects
 * slower fails every request's connect too), never by a route's own `timeouts.connect`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startUnaccepting } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a probe's connect is bounded by its upstream's timeouts.connect, not by a route's", async () => {
  const unaccepting = await startUnaccepting();
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
    timeouts: { connect: 50ms }
upstreams:
  app:
    targets:
      - url: ${unaccepting.url}
    timeouts: { connect: 150ms }
    health_check: { path: /health, interval: 50ms, timeout: 1s, rise: 1, fall: 1 }
`);
  try {
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    assert.ok(target);
    while (target.checkedHealthy) await sleep(10);
    assert.equal(target.lastProbe?.failure?.type, 'connection_timeout');
    assert.match(target.lastProbe?.failure?.details ?? '', /not done after 150 ms/);
    const down = gw.logs.find((l) => l.msg === 'target down');
    assert.equal(down?.error, 'connection_timeout');
    assert.equal(down?.shape, 'unreachable');
  } finally {
    await gw.close();
    await unaccepting.close();
  }
});
