/**
 * GET /status's `panic` against what the balancer does: when every target is ejected, requests
 * go to the ejected ones anyway and each log line says `"panic":true` (architecture.md,
 * "Panic"); the status the operator reads in the outage says the same, not `panic: false`
 * beside the log's true. With `panic_threshold: 0` there is no such fallback (503), and no panic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

function config(url: string, extra = ''): string {
  return `name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 10m }
${extra}`;
}

test('every target ejected: requests go to it in panic, and /status says panic', async () => {
  const fault = await startRefusing();
  const gw = await startTestGateway(config(fault.url));
  try {
    const first = await request(gw.url, { path: '/a', headers: { 'x-request-id': 'eject-1' } });
    assert.equal(first.status, 502, 'the refusal that ejects the only target');
    const before = gw.gateway.status().upstreams.app;
    assert.equal(before.targets[0].ejected, true);
    const second = await request(gw.url, { path: '/b', headers: { 'x-request-id': 'eject-2' } });
    assert.equal(second.status, 502, 'sent to the ejected target: its real failure, not a 503');
    assert.match(String(second.headers['proxy-status']), /error=connection_refused/);
    const line = await gw.logFor('eject-2');
    assert.equal(line.error, 'connection_refused');
    assert.equal(line.panic, true, 'the log says the pick was in panic');
    const status = gw.gateway.status().upstreams.app;
    assert.equal(status.panic, true, 'the status says what the log says');
    assert.equal(status.targets[0].ejected, true);
  } finally {
    await gw.close();
    await fault.close();
  }
});

test('every target ejected with panic_threshold: 0: 503 and no panic, in the log or the status', async () => {
  const fault = await startRefusing();
  const gw = await startTestGateway(config(fault.url, '    panic_threshold: 0\n'));
  try {
    // Refused, its target ejected, the retry finds none: the refusal's own 502 (retry_skipped:
    // no_target), not a 503 for a try never made.
    assert.equal((await request(gw.url, { path: '/a' })).status, 502);
    const second = await request(gw.url, { path: '/b', headers: { 'x-request-id': 'nopanic-2' } });
    assert.equal(second.status, 503);
    const line = await gw.logFor('nopanic-2');
    assert.equal(line.error, 'destination_unavailable');
    assert.equal(Object.hasOwn(line, 'panic'), false);
    const status = gw.gateway.status().upstreams.app;
    assert.equal(status.panic, false);
    assert.equal(status.targets[0].ejected, true);
  } finally {
    await gw.close();
    await fault.close();
  }
});
