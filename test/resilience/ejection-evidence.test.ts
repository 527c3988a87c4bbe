/**
 * What may end an ejection or close a circuit, and what may not (docs/resilience.md, "Passive
 * health, circuit breakers…"): only a request sent to the target once its ejection ran out, or
 * sent to it while ejected, is a probe; a passing health check ends an ejection only while
 * requests wait for the upstream (`hold`). Two kinds of stale good news are pinned here, which
 * straggler-failures.test.ts pins for bad news: a slow success sent before the ejection (or the
 * circuit's opening) and answered during it, and a health endpoint that answers while the
 * target fails every real request. Either, taken as a return, would put back a target that
 * fails everything it is sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
const HEALTHY = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok';

test('a slow success sent before the ejection, answered while it lasts, does not end it', async () => {
  const slow: Array<() => void> = [];
  const a = await scriptedUpstream((socket, req) => {
    if (req.head.startsWith('GET /slow')) slow.push(() => socket.write(OK));
    else socket.resetAndDestroy();
  });
  const b = await scriptedUpstream((socket) => socket.write(OK));
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
      - url: ${a.url}
      - url: ${b.url}
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 1 }
`);
  try {
    // Slow requests until one is out on a (b answers its own at once).
    const slowAnswers = [];
    while (slow.length === 0) {
      slowAnswers.push(request(gw.url, { path: '/slow', timeoutMs: 30_000 }));
      await waitUntil(
        'the slow request sent',
        () => a.requests.length + b.requests.length >= slowAnswers.length,
      );
    }
    while (!gw.logs.some((l) => l.msg === 'target ejected')) await request(gw.url, { path: '/fail' });
    for (const answer of slow) answer();
    for (const answer of await Promise.all(slowAnswers)) assert.equal(answer.status, 200);

    const before = a.requests.length;
    for (let i = 0; i < 6; i++) assert.equal((await request(gw.url, { path: '/after' })).status, 200);
    assert.equal(a.requests.length, before, 'the ejected target got no request');
    assert.equal(gw.logs.filter((l) => l.msg === 'target back in rotation').length, 0);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test('a slow success sent before the circuit opened, answered while it is open, does not close it', async () => {
  const slow: Array<() => void> = [];
  const a = await scriptedUpstream((socket, req) => {
    if (req.head.startsWith('GET /slow')) slow.push(() => socket.write(OK));
    else socket.resetAndDestroy();
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 2, open_time: 60s }
    retries: { attempts: 1 }
`);
  try {
    const slowAnswer = request(gw.url, { path: '/slow', timeoutMs: 30_000 });
    await waitUntil('the slow request sent', () => slow.length === 1);
    while (!gw.logs.some((l) => l.msg === 'circuit opened')) await request(gw.url, { path: '/fail' });
    slow[0]();
    assert.equal((await slowAnswer).status, 200);

    const before = a.requests.length;
    const after = await request(gw.url, { path: '/after' });
    assert.equal(after.status, 503);
    assert.match(String(after.headers['proxy-status']), /error=destination_unavailable/);
    assert.match(String(after.headers['proxy-status']), /is open after repeated failures/);
    const retryAfter = Number(after.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
    assert.equal(a.requests.length, before, 'nothing reached the upstream');
    assert.equal(gw.logs.filter((l) => l.msg === 'circuit closed').length, 0);
  } finally {
    await gw.close();
    await a.close();
  }
});

test('a health check that passes while every real request fails does not end an ejection (no request waits)', async () => {
  const a = await scriptedUpstream((socket, req) => {
    if (req.head.startsWith('GET /health')) socket.end(HEALTHY);
    else socket.resetAndDestroy();
  });
  const b = await scriptedUpstream((socket) => socket.write(OK));
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
      - url: ${b.url}
    health_check: { path: /health, interval: 50ms, timeout: 5s, rise: 1, fall: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 2 }
`);
  const probes = () => a.requests.filter((r) => r.head.startsWith('GET /health')).length;
  const traffic = () => a.requests.length - probes();
  try {
    // Each reset on a goes on to b: the client sees none of them.
    while (!gw.logs.some((l) => l.msg === 'target ejected'))
      assert.equal((await request(gw.url, { path: '/x' })).status, 200);
    const sent = traffic();
    const passed = probes();
    await waitUntil('five more probes passed', () => probes() >= passed + 5);

    for (let i = 0; i < 6; i++) assert.equal((await request(gw.url, { path: '/after' })).status, 200);
    assert.equal(traffic(), sent, 'the ejected target got no request');
    assert.equal(gw.logs.filter((l) => l.msg === 'target back in rotation').length, 0);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});
