/**
 * What passive ejection judges and how it is shown, through a real gateway: an upstream's own
 * 5xx answers eject nothing (docs/configuration.md: "never the upstream's own statuses"), its
 * resets do, and /status shows the ejected target with the reason and end its log line gives,
 * its circuit half_open once that end passed and until its probe (as candor_circuit_state), then
 * clears them once the target is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

type Mode = 'status500' | 'reset' | 'ok';

/** A keep-alive upstream whose every answer the test chooses: a 500, a reset, or a 200. */
async function startModal() {
  let mode: Mode = 'status500';
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      await readRequest(connection);
      if (mode === 'reset') return connection.reset(0);
      const code = mode === 'ok' ? 200 : 500;
      await connection.write(`HTTP/1.1 ${code} X\r\nContent-Length: 2\r\n\r\nok`);
    }
  });
  return {
    fault,
    set: (next: Mode) => {
      mode = next;
    },
  };
}

test("an upstream's 500s eject nothing; resets do, and /status shows the ejection's reason and end as its log line does", async () => {
  const upstream = await startModal();
  const gw = await startTestGateway(
    singleUpstream(upstream.fault.url, {
      upstream: `    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 300ms }`,
    }),
  );
  const status = () => gw.gateway.status().upstreams.app.targets[0];
  try {
    for (let i = 0; i < 6; i++) assert.equal((await request(gw.url, { path: `/s${i}` })).status, 500);
    assert.equal(gw.logs.filter((l) => l.msg === 'target ejected').length, 0, 'a 500 is an answer');
    assert.equal(status().ejected, false);
    assert.equal(status().last_failure, null, 'an answer is no failure of the target');

    upstream.set('reset');
    assert.equal((await request(gw.url, { path: '/r1' })).status, 502);
    assert.equal((await request(gw.url, { path: '/r2' })).status, 502);
    const ejected = gw.logs.filter((l) => l.msg === 'target ejected');
    assert.equal(ejected.length, 1, JSON.stringify(gw.logs));
    const seen = status();
    assert.equal(seen.ejected, true);
    assert.equal(seen.ejected_until, ejected[0].until, 'the status and the log give one end');
    assert.equal(seen.last_failure?.type, ejected[0].reason);
    assert.equal(seen.last_failure?.type, 'connection_terminated');
    assert.equal(seen.ejections, 1);
    assert.deepEqual(seen.circuit, { state: 'open', open_until: seen.ejected_until });

    // Back once its time ran out: the next request is its probe, and its success returns it.
    upstream.set('ok');
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    while (target?.isEjected(performance.now())) await new Promise((resolve) => setTimeout(resolve, 20));
    // Its time over, its probe not yet come: no longer ejected, not yet back (candor_circuit_state's half_open).
    const pending = status();
    assert.equal(pending.ejected, false);
    assert.deepEqual(pending.circuit, { state: 'half_open', open_until: null });
    assert.equal((await request(gw.url, { path: '/back' })).status, 200);
    assert.equal(gw.logs.filter((l) => l.msg === 'target back in rotation').length, 1);
    assert.equal(status().ejected, false);
    assert.equal(status().ejected_until, null);
    assert.deepEqual(status().circuit, { state: 'closed', open_until: null });
    assert.equal(status().ejections, 1, 'the count of ejections in a row stays, for the next one');
  } finally {
    await gw.close();
    await upstream.fault.close();
  }
});

test('an ejection in a row lasts base_ejection_time × its count, never more than max_ejection_time', async () => {
  const upstream = await startModal();
  upstream.set('reset');
  const gw = await startTestGateway(
    singleUpstream(upstream.fault.url, {
      upstream: `    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 100ms, max_ejection_time: 150ms }`,
    }),
  );
  try {
    const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
    assert.ok(target);
    const ejections = () => gw.logs.filter((l) => l.msg === 'target ejected');
    for (let i = 0; ejections().length < 3; i++) {
      assert.ok(i < 200, JSON.stringify(ejections()));
      // Its ejection over, the next request is its probe: a failure ejects it again.
      while (target.isEjected(performance.now())) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal((await request(gw.url, { path: `/r${i}` })).status, 502);
    }
    assert.deepEqual(
      ejections().map((l) => [l.ejections, l.for_ms]),
      [
        [1, 100],
        [2, 150],
        [3, 150],
      ],
    );
    assert.equal(gw.logs.filter((l) => l.msg === 'target back in rotation').length, 0);
  } finally {
    await gw.close();
    await upstream.fault.close();
  }
});
