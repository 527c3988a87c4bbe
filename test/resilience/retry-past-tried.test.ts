/**
 * A rolling restart of two targets: the first one restarted was ejected (its refusals) and is back,
 * still ejected for its `base_ejection_time`; it holds `max_ejected_percent`'s one place, so the
 * second, now refusing, cannot be ejected and stays the only target in rotation. A POST refused
 * there was retried on the same refused target (the tried one was all the balancer's pick had
 * left), a 502 `connection_refused` with `tries` twice the same target, while the other, untried,
 * was up. For a retry the tried targets are out as the ejected ones are: an untried target out only
 * through its ejection comes before a target that already failed this request, as a new request
 * goes to the ejected ones when none is left in rotation (docs/resilience.md).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';
import { freePort } from '../helpers/wait.ts';

/** A target that can die and come back on its port: every answer closes its connection, so no pooled one outlives it. */
function restartable(port: number) {
  let server: http.Server | undefined;
  let served = 0;
  return {
    url: `http://127.0.0.1:${port}`,
    served: () => served,
    start: () =>
      new Promise<void>((resolve) => {
        server = http.createServer((req, res) => {
          req.resume();
          req.on('end', () => {
            served++;
            res.writeHead(200, { 'content-length': '2', connection: 'close' }).end('ok');
          });
        });
        server.listen(port, '127.0.0.1', resolve);
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (server === undefined) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
        server = undefined;
      }),
  };
}

test('a refused retry goes to the untried target out only by its ejection, not back to the refusing one', async () => {
  const a = restartable(await freePort());
  const b = restartable(await freePort());
  await a.start(); // b is down: its first refusal ejects it
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
      - url: ${b.url}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 0 }
`);
  try {
    // Round robin over two: one of these goes to b first, is refused (b ejected), retried on a.
    for (const path of ['/one', '/two']) assert.equal((await request(gw.url, { path })).status, 200);
    const ejections = gw.logs.filter((line) => line.msg === 'target ejected');
    assert.deepEqual(
      ejections.map((line) => line.target),
      [b.url],
    );
    // b back (still ejected for a minute), then a dies: a cannot be ejected (b holds the one place).
    await b.start();
    await a.stop();
    const answer = await request(gw.url, { method: 'POST', path: '/three', body: 'x' });
    const line = await gw.accessLine(3);
    const tries = (line.tries as Array<{ target: string; error?: string; status?: number }>).map((t) => [
      t.target,
      t.error ?? t.status,
    ]);
    assert.deepEqual(tries, [
      [a.url, 'connection_refused'],
      [b.url, 200],
    ]);
    assert.equal(answer.status, 200);
    assert.equal(line.panic, true); // b was taken out of its ejection for this request
    assert.equal(b.served(), 1);
    // Its answer, to a request picked for it while ejected, ends its ejection as a probe's would: b
    // holds max_ejected_percent's place no longer, and a's next refusal ejects a. Kept ejected, b
    // left a taking every first try, a refusal and a retry each, until the budget said no (502s).
    const back = gw.logs.filter((l) => l.msg === 'target back in rotation');
    assert.deepEqual(
      back.map((l) => [l.target, l.by]),
      [[b.url, 'request']],
    );
    assert.equal((await request(gw.url, { method: 'POST', path: '/four', body: 'x' })).status, 200);
    assert.deepEqual(
      gw.logs.filter((l) => l.msg === 'target ejected').map((l) => l.target),
      [b.url, a.url],
    );
    for (const path of ['/five', '/six']) {
      assert.equal((await request(gw.url, { method: 'POST', path, body: 'x' })).status, 200);
    }
    const five = await gw.accessLine(5);
    const six = await gw.accessLine(6);
    assert.deepEqual([five.target, five.tries, six.target, six.tries], [b.url, undefined, b.url, undefined]);
  } finally {
    await gw.close();
    await a.stop();
    await b.stop();
  }
});

test('the half-open probe goes on to the target back from a restart: its refusal on the other one opens the circuit again, its retry closes it', async () => {
  // Both targets down: one ejected (it holds max_ejected_percent's one place), the circuit open.
  // The ejected one comes back, the other stays down. Each half-open probe went to the only one
  // in rotation, the refusing one; its refusal opened the circuit again and the retry the rules
  // give a refused request (to the untried target out only by its ejection) was refused by that
  // circuit: the upstream answered 503 (and a 502 each open_time) for the whole ejection, a
  // minute here, though a target could serve. The probe is the request: its retry goes on.
  const a = restartable(await freePort());
  const b = restartable(await freePort());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${a.url}
      - url: ${b.url}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }
    circuit_breaker: { consecutive_failures: 2, open_time: 100ms }
`);
  try {
    assert.equal((await request(gw.url, { path: '/one' })).status, 502);
    const opened = gw.logs.filter((l) => l.msg === 'circuit opened');
    assert.deepEqual(
      opened.map((l) => l.by),
      ['failures'],
    );
    const ejected = gw.logs.filter((l) => l.msg === 'target ejected').map((l) => l.target);
    assert.equal(ejected.length, 1);
    const [back, down] = ejected[0] === a.url ? [a, b] : [b, a];
    await back.start();
    await new Promise((resolve) => setTimeout(resolve, 150)); // the open time over: the next request is the probe
    const answer = await request(gw.url, { path: '/two' });
    const line = await gw.accessLine(2);
    const tries = (line.tries as Array<{ target: string; error?: string; status?: number }>).map((t) => [
      t.target,
      t.error ?? t.status,
    ]);
    assert.deepEqual(tries, [
      [down.url, 'connection_refused'],
      [back.url, 200],
    ]);
    assert.equal(answer.status, 200);
    assert.equal(line.retry_skipped, undefined);
    assert.deepEqual(
      gw.logs
        .filter((l) => l.msg === 'circuit opened' || l.msg === 'circuit closed')
        .map((l) => [l.msg, l.by]),
      [
        ['circuit opened', 'failures'],
        ['circuit opened', 'probe'],
        ['circuit closed', undefined],
      ],
    );
    assert.equal(back.served(), 1);
    // Closed, and the target back in rotation: the next request is served, not refused as the circuit's.
    assert.equal((await request(gw.url, { path: '/three' })).status, 200);
    assert.equal(gw.gateway.status().upstreams.app.circuit.state, 'closed');
  } finally {
    await gw.close();
    await a.stop();
    await b.stop();
  }
});
