/**
 * A per-try timeout and the upstream's circuit read from outside (docs/resilience.md): upstreams
 * that never answer, or reset every request, and what the clients get and the upstream sees.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readRequest, startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

const pool = (urls: string[], extra: string) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
${extra}`;

test('upstreams that never answer: each attempt cut at the per-try timeout on a target of its own, then 504 http_response_timeout', async () => {
  const silent = () =>
    startRawFault(async (connection) => {
      await readRequest(connection); // and never a byte of answer: the gateway's clocks end it
    });
  const targets = await Promise.all([silent(), silent(), silent()]);
  const gw = await startTestGateway(
    pool(
      targets.map((t) => t.url),
      `    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 0 }
    retries: { attempts: 3, per_try_timeout: 150ms, backoff: { base: 1ms, max: 1ms } }
    timeouts: { response: 5s, total: 10s }
`,
    ),
  );
  try {
    const res = await request(gw.url, { path: '/hang', headers: { 'x-request-id': 'hang' } });
    assert.equal(res.status, 504, 'a timeout, not a 502');
    // The last attempt's own cut: its per-try clock, not the route's total (which never came).
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=http_response_timeout; details="no response head \(per-try timeout of 150 ms\) after [0-9]+ ms"; next-hop="app"$/,
    );
    assert.deepEqual(
      targets.map((t) => t.received.length),
      [1, 1, 1],
      'each attempt went to a target not tried yet',
    );
    const line = await gw.logFor('hang');
    assert.deepEqual([line.status, line.error, line.attempts], [504, 'http_response_timeout', 3]);
    const tries = line.tries as { error?: string }[];
    assert.deepEqual(
      tries.map((t) => t.error),
      ['http_response_timeout', 'http_response_timeout', 'http_response_timeout'],
    );
  } finally {
    await gw.close();
    await closeAll(...targets);
  }
});

test('a lone upstream that never answers is not asked again: 504 after its one attempt, retry_skipped no_target', async () => {
  const silent = await startRawFault(async (connection) => {
    await readRequest(connection);
  });
  const gw = await startTestGateway(
    pool(
      [silent.url],
      '    retries: { attempts: 3, per_try_timeout: 150ms, backoff: { base: 1ms, max: 1ms } }\n',
    ),
  );
  try {
    const res = await request(gw.url, { path: '/hang', headers: { 'x-request-id': 'lone' } });
    assert.equal(res.status, 504);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=http_response_timeout; /);
    assert.equal(silent.received.length, 1, 'a timeout on the same target would just repeat');
    const line = await gw.logFor('lone');
    assert.deepEqual([line.attempts, line.retry_skipped], [1, 'no_target']);
  } finally {
    await gw.close();
    await silent.close();
  }
});

test('the circuit opens after the documented 20 failures in a row: 503 naming the last failure, nothing reaches the upstream, one probe closes it', async () => {
  let mode: 'reset' | 'hold' = 'reset';
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const target = await startRawFault(async (connection) => {
    for (;;) {
      await readRequest(connection);
      if (mode === 'reset') return connection.reset(0);
      await released;
      await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }
  });
  // circuit_breaker.consecutive_failures left at its default; ejection off, one attempt each.
  const gw = await startTestGateway(
    pool(
      [target.url],
      '    outlier_detection: { consecutive_failures: 0 }\n    circuit_breaker: { open_time: 1s }\n    retries: { attempts: 1 }\n',
    ),
  );
  try {
    for (let i = 0; i < 20; i++) assert.equal((await request(gw.url)).status, 502, `failure ${i + 1}`);
    assert.equal(target.received.length, 20);
    for (let i = 0; i < 5; i++) {
      const open = await request(gw.url, { headers: { 'x-request-id': `open-${i}` } });
      assert.equal(open.status, 503);
      // Whole seconds until the probe, rounded up: under open_time's 1 s, always 1, never 0.
      assert.equal(open.headers['retry-after'], '1');
      assert.match(
        String(open.headers['proxy-status']),
        /^edge-1; error=destination_unavailable; details="the circuit of \\"app\\" is open after repeated failures \(the last: connection_terminated, [0-9.]+ s ago\)"; next-hop="app"$/,
      );
      assert.equal((await gw.logFor(`open-${i}`)).attempts, 0);
    }
    assert.equal(target.received.length, 20, 'nothing reached the upstream while the circuit was open');
    const circuit = gw.gateway.runtime().upstreams.get('app')?.circuit;
    assert.ok(circuit);
    while (circuit.stateAt(performance.now()) === 'open')
      await new Promise((resolve) => setTimeout(resolve, 50));
    // A failed probe opens it again for open_time: one request reached the upstream, the next is refused.
    assert.equal((await request(gw.url)).status, 502, 'the probe met the reset');
    assert.equal(target.received.length, 21);
    const reopened = await request(gw.url);
    assert.equal(reopened.status, 503);
    assert.equal(reopened.headers['retry-after'], '1');
    assert.equal(target.received.length, 21, 'the circuit opened again at its probe');
    while (circuit.stateAt(performance.now()) === 'open')
      await new Promise((resolve) => setTimeout(resolve, 50));
    mode = 'hold';
    const probe = request(gw.url, { path: '/probe' });
    await target.waitForRequest(22);
    const others = await Promise.all([request(gw.url), request(gw.url), request(gw.url)]);
    assert.deepEqual(
      others.map((r) => r.status),
      [503, 503, 503],
      'one probe at a time',
    );
    assert.equal(target.received.length, 22, 'only the probe reached the upstream');
    release();
    assert.equal((await probe).status, 200);
    assert.equal((await request(gw.url)).status, 200, 'the probe closed the circuit');
    assert.equal(target.received.length, 23);
  } finally {
    release();
    await gw.close();
    await target.close();
  }
});
