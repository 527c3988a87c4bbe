/**
 * With every target ejected (and `panic_threshold` above 0), the balancer sends requests to the
 * ejected ones: the client learns their real failure. A GET reset there was not retried on the
 * other ejected target, `retry_skipped: no_target` ("no other target to try"), although a refused
 * connection in the same state was retried on it, and every new request went there: the retry rule
 * asked whether a target was in rotation, the balancer whether one could be picked. They ask the
 * same question now: the GET goes on to the other target, as Envoy retries on any host in panic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

test('every target ejected: a GET reset on one is retried on the other, as a refused one is', async () => {
  const [a, b] = await Promise.all([0, 1].map(() => scriptedUpstream((socket) => socket.resetAndDestroy())));
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
      - url: ${b.url}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s, max_ejected_percent: 100 }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 2 }
`);
  try {
    // The first request's two tries eject both targets.
    assert.equal((await request(gw.url, { path: '/first' })).status, 502);
    const ejected = gw.logs.filter((line) => line.msg === 'target ejected').map((line) => line.target);
    assert.deepEqual(ejected.sort(), [a.url, b.url].sort());

    const answer = await request(gw.url, { path: '/second' });
    assert.equal(answer.status, 502);
    assert.match(String(answer.headers['proxy-status']), /error=connection_terminated/);
    const line = await gw.accessLine(2);
    assert.equal(line.path, '/second');
    assert.equal(line.panic, true);
    assert.equal(line.attempts, 2);
    assert.equal(line.retry_skipped, 'attempts');
    const tries = line.tries as Array<{ target: string; error: string; stage: string }>;
    assert.deepEqual(
      tries.map((t) => [t.error, t.stage]),
      [
        ['connection_terminated', 'sent'],
        ['connection_terminated', 'sent'],
      ],
    );
    assert.notEqual(tries[0].target, tries[1].target);
    assert.equal(a.requests.length + b.requests.length, 4);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});
