/**
 * A retry no target can take is not made: the request's own failure ejected its upstream's only
 * target (panic off), and the retry found none. The client got a 503 destination_unavailable,
 * "no target in rotation (1 ejected)", with a Retry-After of the ejection, for a try never made,
 * while what its attempt met was a refused connection (502); the log said the same 503 beside
 * the one try it listed. As for a retry the circuit refuses, the client now gets its attempt's
 * own failure and the log says `retry_skipped: no_target`; a request after it gets the 503.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRefusing, startUnaccepting } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../helpers/http-client.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';
import { samples, sampleValue, scrape } from '../observe/metrics/scrape.ts';

test('a retry that finds no target after its own failure ejected the only one: the client gets that failure, 502, and the log says no_target', async () => {
  const refusing = await startRefusing();
  const gw = await startTestGateway(`name: edge-1
metrics:
  listen: 127.0.0.1:0
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${refusing.url}
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 30s }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 2 }
`);
  try {
    const res = await request(gw.url, { path: '/first', headers: { 'x-request-id': 'ejected-it' } });
    assert.equal(res.status, 502, 'the refusal its attempt met, not the 503 of a try never made');
    assert.equal(res.headers['retry-after'], undefined);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=connection_refused; details="connection refused/,
    );
    const line = await gw.logFor('ejected-it');
    assert.deepEqual(
      [line.status, line.error, line.stage, line.attempts, line.retry_skipped],
      [502, 'connection_refused', 'not_sent', 1, 'no_target'],
    );
    // The metrics say so too: a retry skipped for no target, none made (none whose result is
    // the destination_unavailable of a try never made).
    const all = samples((await scrape(gw.gateway.metricsPort() as number)).text);
    assert.equal(sampleValue(all, 'candor_retries_skipped_total', { upstream: 'app', why: 'no_target' }), 1);
    assert.equal(
      all.filter((s) => s.name === 'candor_retries_total' && s.value > 0).length,
      0,
      JSON.stringify(all.filter((s) => s.name === 'candor_retries_total')),
    );

    const after = await request(gw.url, { path: '/after' });
    assert.equal(after.status, 503, 'a request after it finds the target ejected');
    assert.match(String(after.headers['proxy-status']), /^edge-1; error=destination_unavailable;.*1 ejected/);
    assert.ok(after.headers['retry-after'] !== undefined);
  } finally {
    await gw.close();
    await refusing.close();
  }
});

test('with hold: the retry no target can take waits when its attempt was refused (a restart), and not after a connect timeout', async (t) => {
  for (const [kind, start] of [
    ['refused', startRefusing],
    ['unaccepting', startUnaccepting],
  ] as const) {
    const fault = await start();
    const gw = await startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${fault.url}
    panic_threshold: 0
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 30s }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 2 }
    timeouts: { connect: 200ms }
    hold: { timeout: 300ms }
`);
    t.after(async () => {
      await gw.close();
      await fault.close();
    });
    const res = await request(gw.url, { path: '/x', headers: { 'x-request-id': kind } });
    const line = await gw.logFor(kind);
    if (kind === 'refused') {
      // Held (the hold waits out a refused connection), then its honest 503 when none came back.
      assert.equal(res.status, 503);
      assert.match(
        String(res.headers['proxy-status']),
        /error=destination_unavailable; details="no target of \\"app\\" took the request within hold.timeout \(300 ms\)/,
      );
      assert.equal(typeof line.held_ms, 'number');
    } else {
      // A connect timeout is no restart: its own 504 at once, the retry not made.
      assert.equal(res.status, 504);
      assert.match(String(res.headers['proxy-status']), /error=connection_timeout/);
      assert.deepEqual([line.held_ms, line.retry_skipped, line.attempts], [undefined, 'no_target', 1]);
    }
  }
});
