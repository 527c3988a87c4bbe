/**
 * The retry rule against the failure shapes the differential with nginx and HAProxy walked
 * (docs/hostile-peers.md, "Retries against nginx and HAProxy"), where no other test pinned
 * them: two targets, the first misbehaving, the second healthy, and exactly what each received.
 * An upstream's own 5xx is its answer, never retried (HAProxy's `retry-on all-retryable-errors`
 * retries it, a POST included); an answer that is not HTTP is not retried (not in the default
 * `retries.on`); a request that reached the upstream goes again only if it is idempotent, a
 * partial status line or a TLS server's silent close included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Fault } from '../../src/kits/fault-kit/fault.ts';
import { startSshBanner } from '../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../src/kits/fault-kit/raw-server.ts';
import { startCloseMidHead, startResetBeforeHead } from '../../src/kits/fault-kit/reset-faults.ts';
import { startTlsOnPlainPort } from '../../src/kits/fault-kit/tls-faults.ts';
import { type ClientResponse, request } from '../helpers/http-client.ts';
import { type LogLine, startTestGateway } from '../helpers/test-gateway.ts';

/** Round robin, ejection off: the first request's first try is the first target. */
const pool = (first: string, second: string) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    balancer: round_robin
    outlier_detection: { consecutive_failures: 0 }
    targets:
      - url: ${first}
      - url: ${second}
`;

interface Sent {
  readonly method: string;
  readonly body?: string | Buffer;
}

/** One request through a fresh gateway in front of `broken` then a healthy echo: the answer, its log line, what the echo got. */
async function through(
  broken: Fault,
  sent: Sent,
): Promise<{ res: ClientResponse; line: LogLine; healthy: Fault }> {
  const healthy = await startEcho();
  const gw = await startTestGateway(pool(broken.url, healthy.url));
  try {
    const res = await request(gw.url, { ...sent, path: '/r', headers: { 'x-request-id': 'shape-1' } });
    return { res, line: await gw.logFor('shape-1'), healthy };
  } finally {
    await gw.close();
    await healthy.close();
    await broken.close();
  }
}

/** An upstream that answers every request with this status line and headers, and a body of its own. */
function startOwnStatus(head: string): Promise<Fault> {
  return startRawFault(async (connection) => {
    await connection.nextRequest({ body: true });
    await connection.write(`${head}\r\nContent-Length: 3\r\n\r\nown`);
  });
}

test("an upstream's own 502, 503 with Retry-After and 504 pass through unchanged on a GET: never retried", async () => {
  for (const [status, head] of [
    [502, 'HTTP/1.1 502 Bad Gateway'],
    [503, 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7'],
    [504, 'HTTP/1.1 504 Gateway Timeout'],
  ] as const) {
    const broken = await startOwnStatus(head);
    const { res, line, healthy } = await through(broken, { method: 'GET' });
    assert.equal(res.status, status);
    assert.equal(res.headers['proxy-status'], `edge-1; received-status=${status}; next-hop="app"`);
    assert.equal(res.headers['retry-after'], status === 503 ? '7' : undefined);
    assert.equal(res.body.toString(), 'own');
    assert.equal(broken.received.length, 1);
    assert.equal(healthy.received.length, 0, `the ${status} was not retried`);
    assert.equal(line.attempts, 1);
    assert.equal(line.retry_skipped, undefined);
  }
});

test('an answer that is not HTTP (an SSH banner): 502 http_protocol_error, not retried, a GET or a PUT', async () => {
  for (const method of ['GET', 'PUT']) {
    const broken = await startSshBanner();
    const { res, line, healthy } = await through(broken, {
      method,
      body: method === 'PUT' ? '{"n":1}' : undefined,
    });
    assert.equal(res.status, 502, method);
    assert.match(
      String(res.headers['proxy-status']),
      /^edge-1; error=http_protocol_error; details="(?:[^"\\]|\\.)+"; next-hop="app"$/,
      method,
    );
    assert.equal(broken.received.length, 1, method);
    assert.equal(healthy.received.length, 0, `${method}: not retried`);
    assert.equal(line.attempts, 1, method);
    assert.equal(line.retry_skipped, 'not_retryable', method);
  }
});

test("a TLS server on the plain port (Node's closes on the plaintext, no alert): a GET goes to the next target, a POST does not", async () => {
  const get = await through(await startTlsOnPlainPort(), { method: 'GET' });
  assert.equal(get.res.status, 200);
  assert.equal(get.healthy.received.length, 1);
  assert.deepEqual(
    (get.line.tries as Array<{ error?: string; stage?: string }>).map((t) => [t.error, t.stage]),
    [
      ['connection_terminated', 'sent'],
      [undefined, undefined],
    ],
  );

  const broken = await startTlsOnPlainPort();
  const post = await through(broken, { method: 'POST', body: '{"n":1}' });
  assert.equal(post.res.status, 502);
  assert.match(
    String(post.res.headers['proxy-status']),
    /^edge-1; error=connection_terminated; details="[^"]+"; next-hop="app"$/,
  );
  assert.equal(broken.connections, 1, 'the plaintext reached the TLS server: it is "sent"');
  assert.equal(post.healthy.received.length, 0, 'the POST was not sent a second time');
  assert.equal(post.line.retry_skipped, 'not_idempotent');
});

test('half a status line, then a reset: a GET goes to the next target, a POST is not sent again', async () => {
  const get = await through(await startCloseMidHead({ partial: 'HTTP/1.1 2', end: 'reset' }), {
    method: 'GET',
  });
  assert.equal(get.res.status, 200);
  assert.equal(get.res.headers['proxy-status'], undefined);
  assert.equal(get.healthy.received.length, 1);
  assert.equal(get.healthy.received[0]?.method, 'GET');
  const tries = get.line.tries as Array<{ error?: string; stage?: string; status?: number }>;
  assert.deepEqual(
    tries.map((t) => [t.error, t.stage, t.status]),
    [
      ['connection_terminated', 'sent', undefined],
      [undefined, undefined, 200],
    ],
  );

  const broken = await startCloseMidHead({ partial: 'HTTP/1.1 2', end: 'reset' });
  const post = await through(broken, { method: 'POST', body: '{"n":1}' });
  assert.equal(post.res.status, 502);
  assert.match(
    String(post.res.headers['proxy-status']),
    /^edge-1; error=connection_terminated; details="(?:[^"\\]|\\.)+"; next-hop="app"$/,
  );
  assert.equal(broken.received.length, 1);
  assert.equal(post.healthy.received.length, 0, 'the POST was not sent a second time');
  assert.equal(post.line.retry_skipped, 'not_idempotent');
});

test('a 1 MiB body the upstream began to read, then reset: a POST is never sent again, a PUT goes whole to the next target', async () => {
  const body = Buffer.alloc(1024 * 1024, 'a'); // within limits.buffer: read whole, so it can be sent again
  const postTarget = await startResetBeforeHead({ after: 'head' });
  const post = await through(postTarget, { method: 'POST', body });
  assert.equal(post.res.status, 502);
  assert.match(String(post.res.headers['proxy-status']), /^edge-1; error=connection_terminated; /);
  assert.equal(postTarget.received.length, 1);
  assert.equal(post.healthy.received.length, 0, 'the POST was not sent a second time');
  assert.equal(post.line.retry_skipped, 'not_idempotent');

  const put = await through(await startResetBeforeHead({ after: 'head' }), { method: 'PUT', body });
  assert.equal(put.res.status, 200);
  assert.equal(put.healthy.received.length, 1);
  const again = await put.healthy.waitForRequest(1, { body: true });
  assert.equal(again.method, 'PUT');
  assert.equal(again.body.length, body.length, 'the retry carried the whole body');
});
