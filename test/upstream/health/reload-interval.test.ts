/**
 * A reload that changes `health_check.interval` moves each target's next probe to the new
 * interval after its last one ended (the docs' "time from the end of one probe of a target to
 * the start of the next"), rather than leaving it where the old interval put it: a target
 * taken down under `interval: 1h` and healthy again waited up to that hour after a reload to
 * `50ms`, while every 503 said `Retry-After: 1` (reckoned from the new interval).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

function config(url: string, interval: string): string {
  return `routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
    health_check: { path: /health, interval: ${interval}, timeout: 1s, rise: 1, fall: 1 }
    panic_threshold: 0
`;
}

test('a reload that shortens the interval probes a down target at the new interval, as its Retry-After says', async () => {
  let health = 503;
  let probes = 0;
  const upstream = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      if (req.path === '/health') probes++;
      const status = req.path === '/health' ? health : 200;
      await connection.write(`HTTP/1.1 ${status} X\r\nContent-Length: 2\r\n\r\nok`);
    }
  });
  const gw = await startTestGateway(config(upstream.url, '1h'));
  try {
    const target = () => gw.gateway.runtime().upstreams.get('app')?.targets[0];
    await waitUntil('down', () => target()?.checkedHealthy === false);
    assert.equal(probes, 1);
    health = 200;
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config(upstream.url, '50ms')}`, '<test>', {}),
    );
    const refused = await request(gw.url, { path: '/x' });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '1', 'the next probe is due within the new interval');
    // Before: no probe for the hour the old interval had scheduled.
    await waitUntil('back up', () => target()?.checkedHealthy === true, 5000);
    assert.ok(probes >= 2);
    const res = await request(gw.url, { path: '/x' });
    assert.equal(res.status, 200);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('a reload that lengthens the interval puts the next probe that much after the last one', async () => {
  let probes = 0;
  const upstream = await startRawFault(async (connection) => {
    for (;;) {
      const req = await readRequest(connection);
      if (req.path === '/health') probes++;
      await connection.write('HTTP/1.1 200 X\r\nContent-Length: 2\r\n\r\nok');
    }
  });
  const gw = await startTestGateway(config(upstream.url, '50ms'));
  try {
    await waitUntil('probed twice', () => probes >= 2);
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config(upstream.url, '1h')}`, '<test>', {}),
    );
    const after = probes;
    // Time for several probes at the old interval: at most the one already out when the reload came.
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.ok(probes <= after + 1, `${probes - after} probes after the reload to 1h`);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
