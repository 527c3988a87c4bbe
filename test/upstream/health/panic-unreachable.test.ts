/**
 * Panic ignores checks that may be wrong (a health path of its own failing), never a check
 * that could not even reach the target: a probe refused at connect is what a request to it
 * would get. With every target refusing, the answer is the gateway's 503
 * `destination_unavailable` with `Retry-After` (DESIGN.md: no healthy target), not one 502
 * `connection_refused` per request, as HAProxy answers 503 when its servers are all down; and
 * in panic over a target failing only its health path and one refusing, every request goes to
 * the one that serves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Upstream } from '../../../src/upstream/targets/upstream.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

function config(urls: readonly string[]): string {
  return `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
    health_check: { path: /health, interval: 50ms, timeout: 1s, rise: 2, fall: 1 }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`;
}

function upstreamOf(gw: TestGateway): Upstream {
  const upstream = gw.gateway.runtime().upstreams.get('app');
  assert.ok(upstream);
  return upstream;
}

test('every target refusing connections: 503 destination_unavailable with Retry-After, no 502 per request', async () => {
  const [a, b] = await Promise.all([startRefusing(), startRefusing()]);
  const gw = await startTestGateway(config([a.url, b.url]));
  try {
    const upstream = upstreamOf(gw);
    await waitUntil('both down', () => upstream.targets.every((t) => !t.checkedHealthy));
    for (let i = 0; i < 4; i++) {
      const res = await request(gw.url, { path: `/x${i}` });
      assert.equal(res.status, 503);
      assert.match(String(res.headers['proxy-status']), /error=destination_unavailable/);
      assert.match(String(res.headers['proxy-status']), /2 failing health checks/);
      assert.ok(res.headers['retry-after'], 'a Retry-After');
    }
    // Nor does GET /status say requests go to targets failing their checks: none goes anywhere.
    assert.equal(upstream.panic.active, true);
    assert.equal(gw.gateway.status().upstreams.app.panic, false);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test('in panic, a target whose probe was refused takes no request; the one failing only its health path takes them all', async () => {
  const refusing = await startRefusing();
  const serving = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      const code = req.path.startsWith('/health') ? 500 : 200;
      await connection.write(`HTTP/1.1 ${code} X\r\nContent-Length: 2\r\n\r\nok`);
    }
  });
  const gw = await startTestGateway(config([refusing.url, serving.url]));
  try {
    const upstream = upstreamOf(gw);
    await waitUntil('in panic', () => upstream.panic.active);
    await waitUntil('the refusal known', () => upstream.targets[0].lastProbe?.failure !== undefined);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await request(gw.url, { path: `/y${i}` })).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    assert.equal(gw.gateway.status().upstreams.app.panic, true);
    assert.equal(serving.received.filter((r) => !r.path.startsWith('/health')).length, 6);
  } finally {
    await gw.close();
    await Promise.all([refusing.close(), serving.close()]);
  }
});

test('every target refusing in panic: Retry-After is the time until the next probe, not the whole interval', async () => {
  // In panic a target whose probe was refused stays out through its checks, as with
  // panic_threshold: 0, so it comes back no sooner than its next probe: the 503 counted down to
  // that probe with panic off, and said the whole interval in panic (the default threshold).
  const dead = await startRefusing();
  const gw = await startTestGateway(
    config([dead.url]).replace('interval: 50ms, timeout: 1s, rise: 2', 'interval: 20s, timeout: 1s, rise: 1'),
  );
  try {
    const upstream = upstreamOf(gw);
    await waitUntil('down', () => !upstream.targets[0].checkedHealthy);
    assert.equal(upstream.panic.active, true);
    const probedAt = upstream.targets[0].lastProbe?.at as number;
    await sleep(Math.max(0, probedAt + 1500 - performance.now()));
    const before = performance.now();
    const res = await request(gw.url, { path: '/z' });
    const after = performance.now();
    assert.equal(res.status, 503);
    assert.match(String(res.headers['proxy-status']), /1 failing health checks/);
    const due = (at: number) => Math.ceil((probedAt + 20_000 - at) / 1000);
    const said = Number(res.headers['retry-after']);
    assert.ok(
      said <= due(before) && said >= due(after),
      `Retry-After ${said}, the next probe due in ${due(after)}–${due(before)} s`,
    );
  } finally {
    await gw.close();
    await dead.close();
  }
});
