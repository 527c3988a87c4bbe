/**
 * `max_ejected_percent` bounds the targets outlier detection holds out. A target whose ejection
 * ran out waits for its probe request (half-open) and keeps its place in that bound while it
 * can take one; but a target the active checks took out of rotation gets no request, so it
 * would wait for ever and hold the only slot of the pool, leaving the next target that fails
 * every request in rotation (Envoy unejects a host when its time is over, whatever its checks).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers /health with the status the test sets, and resets the data path's requests once told to. */
async function startBreakable() {
  let status = 200;
  let resetting = false;
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      const health = req.path.startsWith('/health');
      if (!health && resetting) return connection.reset(0);
      await connection.write(`HTTP/1.1 ${health ? status : 200} X\r\nContent-Length: 2\r\n\r\nok`);
    }
  });
  return {
    fault,
    setHealth: (next: number) => {
      status = next;
    },
    breakData: () => {
      resetting = true;
    },
  };
}

test('a target the checks took out holds no ejection slot once its ejection ran out: the next failing target is ejected', async () => {
  const first = await startBreakable();
  const second = await startBreakable();
  const [c, d] = [await startEcho(), await startEcho()];
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${first.fault.url}
      - url: ${second.fault.url}
      - url: ${c.url}
      - url: ${d.url}
    balancer: round_robin
    retries: { attempts: 1 }
    health_check: { path: /health, interval: 30ms, timeout: 1s, rise: 1, fall: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 100ms, max_ejected_percent: 25 }
`);
  try {
    const targets = gw.gateway.runtime().upstreams.get('app')?.targets;
    assert.ok(targets);
    const [a, b] = targets;
    const ejectedLines = (origin: string) =>
      gw.logs.filter((l) => l.msg === 'target ejected' && l.target === origin).length;
    first.breakData();
    for (let i = 0; ejectedLines(first.fault.url) === 0; i++) {
      assert.ok(i < 8, 'the first target ejected by a request it reset');
      await request(gw.url, { path: `/a${i}` });
    }
    // Its checks now fail: out of rotation, and its ejection runs out while no request reaches it.
    first.setHealth(503);
    while (a.checkedHealthy || a.isEjected(performance.now())) await sleep(10);
    assert.equal(a.isHalfOpen(performance.now()), true, 'its ejection ran out; no probe request came');

    // The second breaks: round robin over the three in rotation tries it within three requests,
    // and its reset ejects it (25% of four targets: one slot, which the first no longer needs).
    second.breakData();
    for (let i = 0; i < 3; i++) await request(gw.url, { path: `/b${i}` });
    assert.ok(
      second.fault.received.some((r) => r.path.startsWith('/b')),
      'the second was tried',
    );
    assert.equal(
      ejectedLines(second.fault.url),
      1,
      JSON.stringify(gw.logs.filter((l) => l.msg === 'target ejected')),
    );
    // Ejected once (not still now: its 100 ms may have run out on a loaded machine since).
    assert.equal(b.ejections, 1);
  } finally {
    await gw.close();
    await Promise.all([first.fault.close(), second.fault.close(), c.close(), d.close()]);
  }
});

test('such a target, back by its checks while another holds the slot, is not ejected again beside it when its probe request fails', async () => {
  const first = await startBreakable();
  const second = await startBreakable();
  const [c, d] = [await startEcho(), await startEcho()];
  const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${first.fault.url}
      - url: ${second.fault.url}
      - url: ${c.url}
      - url: ${d.url}
    balancer: round_robin
    retries: { attempts: 1 }
    health_check: { path: /health, interval: 30ms, timeout: 1s, rise: 1, fall: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 1s, max_ejected_percent: 25 }
`);
  try {
    const targets = gw.gateway.runtime().upstreams.get('app')?.targets;
    assert.ok(targets);
    const [a, b] = targets;
    const ejectedLines = (origin: string) =>
      gw.logs.filter((l) => l.msg === 'target ejected' && l.target === origin).length;
    first.breakData();
    for (let i = 0; ejectedLines(first.fault.url) === 0; i++) {
      assert.ok(i < 8, 'the first target ejected by a request it reset');
      await request(gw.url, { path: `/a${i}` });
    }
    first.setHealth(503);
    while (a.checkedHealthy || a.isEjected(performance.now())) await sleep(10);
    second.breakData();
    for (let i = 0; ejectedLines(second.fault.url) === 0; i++) {
      assert.ok(i < 6, 'the second target ejected');
      await request(gw.url, { path: `/b${i}` });
    }
    // The first passes its checks again: half-open, it takes a probe request, which it resets.
    first.setHealth(200);
    while (!a.checkedHealthy) await sleep(5);
    const probed = first.fault.received.filter((r) => r.path.startsWith('/c')).length;
    for (let i = 0; first.fault.received.filter((r) => r.path.startsWith('/c')).length === probed; i++) {
      assert.ok(i < 6, 'the first target took its probe request');
      await request(gw.url, { path: `/c${i}` });
    }
    assert.equal(
      b.isEjected(performance.now()),
      true,
      'the second is still out: the test ran within its ejection',
    );
    assert.equal(ejectedLines(first.fault.url), 1, 'one slot in the pool, the second holds it');
    assert.equal(a.isEjected(performance.now()), false);
  } finally {
    await gw.close();
    await Promise.all([first.fault.close(), second.fault.close(), c.close(), d.close()]);
  }
});
