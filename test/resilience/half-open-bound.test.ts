/**
 * `circuit_breaker.half_open_requests` is the number of probe requests let through at once
 * while half-open (docs/configuration.md), whichever turn of the circuit sent them: a slow probe
 * still out when a quick one's failure opened the circuit again is out still, and the next turn
 * lets through only what is left of the bound, not the whole bound beside it. A recovering
 * upstream that answers some requests slowly and resets others must not see more probes at
 * once than the operator allowed. Real sockets: an upstream that resets or hangs, by path.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

test('half_open_requests bounds the probes out at once across turns: a slow probe of the last turn still counts', async () => {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const reached: string[] = [];
  let hanging = 0;
  const upstream = http.createServer(async (req, res) => {
    reached.push(req.url ?? '');
    if (req.url?.startsWith('/reset')) return req.socket.resetAndDestroy();
    hanging++;
    await released;
    res.end('ok');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    timeouts: { response: 30s }
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 1, open_time: 300ms, half_open_requests: 2 }
    targets:
      - url: http://127.0.0.1:${port}
`);
  const circuit = gw.gateway.runtime().upstreams.get('app')?.circuit;
  const halfOpen = () =>
    waitUntil('the circuit half-open', () => circuit?.stateAt(performance.now()) === 'half_open');
  try {
    assert.equal((await request(gw.url, { path: '/reset-0' })).status, 502);
    await halfOpen();
    // The first turn's two probes: one hangs, one resets and opens the circuit again.
    const slow = request(gw.url, { path: '/slow', timeoutMs: 30_000 });
    await waitUntil('the slow probe at the upstream', () => hanging === 1);
    assert.equal((await request(gw.url, { path: '/reset-1' })).status, 502);
    assert.equal(circuit?.stateAt(performance.now()), 'open');
    await halfOpen();
    // The next turn: the slow probe is still out, so one more may go, and no other.
    const next = request(gw.url, { path: '/next', timeoutMs: 30_000 });
    await waitUntil('the next probe at the upstream', () => hanging === 2);
    const refused = await request(gw.url, { path: '/refused' });
    assert.equal(refused.status, 503);
    assert.match(String(refused.headers['proxy-status']), /its probe is under way/);
    assert.deepEqual(
      reached,
      ['/reset-0', '/slow', '/reset-1', '/next'],
      'two probes out at once, never three',
    );
    release();
    assert.deepEqual(
      (await Promise.all([slow, next])).map((r) => r.status),
      [200, 200],
    );
    assert.equal(circuit?.stateAt(performance.now()), 'closed');
    assert.equal((await request(gw.url, { path: '/after' })).status, 200);
  } finally {
    release();
    await gw.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  }
});
