/**
 * A gRPC client's deadline that passes with no attempt under way, so with nothing of the call
 * being sent: `grpc-timeout: 0m` (a deadline already past when the call arrives, as gRPC's
 * libraries read a zero: PROTOCOL-HTTP2.md gives the value no other meaning), and a deadline that
 * passes while a retry waits out its backoff, or while the call waits for a target (`hold`). Each is DEADLINE_EXCEEDED, logged
 * `client_deadline_connecting` (Proxy-Status `connection_timeout`: nothing was delivered), its
 * details saying what happened. Before, both said "no response head within the client's
 * grpc-timeout" and `http_response_timeout`: a wait for a head that never was, and a request the
 * client would take as delivered.
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import { percentDecodeGrpcMessage } from '../../../src/core/failure/grpc-answer.ts';
import { h2Answer, startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { holdLoopAfterFirstAttempt } from '../../helpers/busy-loop.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** A gRPC message frame: not compressed, its length, its bytes. */
const message = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

/** One unary gRPC call over h2c with these extra fields (`body` false: none, the stream ends with its head); its head, bounded in time. */
function call(url: string, headers: Record<string, string>, body = true): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': '/shop.Orders/Get',
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      },
      { endStream: !body },
    );
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    let head: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      head = h;
    });
    stream.on('error', () => {});
    stream.resume();
    stream.on('close', () => {
      clearTimeout(timer);
      session.destroy();
      resolve(head);
    });
    if (body) stream.end(message);
  });
}

function gatewayTo(targets: string, upstreamFields = '') {
  return keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: orders
upstreams:
  orders:
    protocol: h2c
    targets: [${targets}]
    outlier_detection: { consecutive_failures: 0 }
${upstreamFields}`,
      {},
      'http2: true',
    ),
  );
}

test('grpc-timeout 0m: DEADLINE_EXCEEDED at once, the upstream never contacted, saying the deadline had passed on arrival', async () => {
  const upstream = await keep(startH2(h2Answer));
  const gw = await gatewayTo(`{ url: "${upstream.url}" }`);
  for (const zero of ['0m', '0S', '00000000n']) {
    const id = `zero-${zero}`;
    const head = await call(gw.url, { 'grpc-timeout': zero, 'x-request-id': id });
    assert.equal(head[':status'], 200, zero);
    assert.equal(head['grpc-status'], '4', `${zero}: DEADLINE_EXCEEDED`);
    const details = "the client's grpc-timeout of 0 ms had passed when the request arrived: nothing was sent";
    assert.equal(
      head['proxy-status'],
      `edge-1; error=connection_timeout; details="${details}"; next-hop="orders"`,
    );
    assert.equal(
      percentDecodeGrpcMessage(String(head['grpc-message'])),
      `connection_timeout (client_deadline_connecting): ${details} (request id ${head['x-request-id']})`,
    );
    const line = await gw.logFor(id);
    assert.equal(line.status, 504);
    assert.equal(line.grpc_status, 4);
    assert.equal(line.error, 'client_deadline_connecting');
    assert.equal(line.details, details);
    assert.equal(line.stage, 'not_sent');
    assert.equal(line.attempts, 0);
  }
  assert.equal(upstream.received.length, 0, 'no call reached the upstream');
});

test('grpc-timeout of a few microseconds (1n, 1000n, 1u): never rounded up to a millisecond, so never told upstream as more than the client gave; passed before any attempt, nothing sent', async () => {
  const upstream = await keep(startH2(h2Answer));
  const gw = await gatewayTo(`{ url: "${upstream.url}" }`);
  // A call with no deadline first: the upstream's connection is open, so the next attempts start
  // well under a millisecond after their call came (read as 1 ms, 1n reached the upstream told
  // `grpc-timeout: 241u`, 241,000 times what its client gave).
  assert.equal((await call(gw.url, { 'x-request-id': 'warm' }))[':status'], 200);
  await gw.logFor('warm');
  for (const [sent, ms] of [
    ['1n', '0.000001'],
    ['1000n', '0.001'],
    ['1u', '0.001'],
  ]) {
    const id = `sub-ms-${sent}`;
    const head = await call(gw.url, { 'grpc-timeout': sent, 'x-request-id': id });
    assert.equal(head['grpc-status'], '4', `${sent}: DEADLINE_EXCEEDED`);
    const line = await gw.logFor(id);
    assert.equal(line.error, 'client_deadline_connecting', sent);
    assert.equal(
      line.details,
      `the client's grpc-timeout of ${ms} ms passed before the first attempt: nothing was sent`,
    );
    assert.equal(line.attempts, 0, sent);
  }
  assert.deepEqual(
    upstream.received.map((request) => request.headers['grpc-timeout']),
    [undefined],
    'only the call without a deadline reached the upstream',
  );
});

test("the client's grpc-timeout passing while a retry waits out its backoff: DEADLINE_EXCEEDED, naming the backoff, the attempts and the last failure", async () => {
  const gw = await gatewayTo(
    '{ url: "http://127.0.0.1:1" }, { url: "http://127.0.0.1:2" }',
    '    retries: { attempts: 2, backoff: { base: 400ms, max: 400ms } }\n',
  );
  // Once the first attempt is refused, the loop is held past the client's deadline, as a busy
  // process would: the backoff and the deadline are both due when it lets go.
  holdLoopAfterFirstAttempt(gw.gateway.runtime().upstreams.get('orders')?.targets ?? [], 700);
  const head = await call(gw.url, { 'grpc-timeout': '500m', 'x-request-id': 'in-backoff' });
  assert.equal(head[':status'], 200);
  assert.equal(head['grpc-status'], '4', 'DEADLINE_EXCEEDED');
  const line = await gw.logFor('in-backoff');
  assert.equal(line.status, 504);
  assert.equal(line.grpc_status, 4);
  assert.equal(line.error, 'client_deadline_connecting');
  assert.equal(line.stage, 'not_sent');
  assert.equal(line.attempts, 1, 'the retry never ran');
  const details = String(line.details);
  assert.match(
    details,
    /^the client's grpc-timeout of 500 ms passed while a retry waited out its backoff, after 1 attempt; the last: connection_refused \(connection refused \(ECONNREFUSED\)[^)]*\)$/,
  );
  assert.equal(
    head['proxy-status'],
    `edge-1; error=connection_timeout; details="${details}"; next-hop="orders"`,
  );
});

test("the client's grpc-timeout passing while the call waits for a target (hold): DEADLINE_EXCEEDED, naming the hold and the last failure", async () => {
  const gw = await gatewayTo(
    '{ url: "http://127.0.0.1:1" }',
    '    retries: { attempts: 1 }\n    hold: { timeout: 5s }\n',
  );
  // Without a message (nothing to stream): a call that may wait for a target. A second of it: a
  // loaded run once handled the first refused connect after 300 ms had passed ("no connection
  // made within the client's grpc-timeout"), the call never held.
  const head = await call(gw.url, { 'grpc-timeout': '1000m', 'x-request-id': 'held' }, false);
  assert.equal(head[':status'], 200);
  assert.equal(head['grpc-status'], '4', 'DEADLINE_EXCEEDED');
  const line = await gw.logFor('held');
  assert.equal(line.status, 504);
  assert.equal(line.error, 'client_deadline_connecting');
  assert.equal(line.stage, 'not_sent');
  assert.equal(typeof line.held_ms, 'number', 'it was held');
  const details = String(line.details);
  // (A held call is tried again whenever a target may have come back: the count is the log's.)
  const tries = `${line.attempts} attempt${line.attempts === 1 ? '' : 's'}`;
  assert.match(
    details,
    new RegExp(
      `^the client's grpc-timeout of 1000 ms passed while the request waited for a target of "orders" \\(hold\\), after ${tries}; the last: connection_refused \\(connection refused \\(ECONNREFUSED\\)[^)]*\\)$`,
    ),
  );
  // (The quotes around its name escaped, as a structured field's string has them.)
  assert.ok(
    String(head['proxy-status']).startsWith(
      `edge-1; error=connection_timeout; details="the client's grpc-timeout of 1000 ms passed while the request waited for a target of \\"orders\\" (hold), after ${tries}`,
    ),
    String(head['proxy-status']),
  );
});

test("the client's grpc-timeout and a held call's wake due in one turn (a loaded loop): still the hold's DEADLINE_EXCEEDED, never 'before the first attempt'", async () => {
  const gw = await gatewayTo(
    '{ url: "http://127.0.0.1:1" }',
    '    retries: { attempts: 1 }\n    hold: { timeout: 5s }\n',
  );
  // The loop is held across the deadline, as a loaded process's is: when it lets go, the deadline
  // and the hold's next scouting wake are both due, the deadline first. The woken try found the
  // deadline passing and ended the call as one passed before its first attempt (a loaded run of
  // the test above said so).
  setTimeout(() => {
    const until = performance.now() + 300;
    while (performance.now() < until);
  }, 990);
  const head = await call(gw.url, { 'grpc-timeout': '1000m', 'x-request-id': 'held-busy' }, false);
  assert.equal(head['grpc-status'], '4', 'DEADLINE_EXCEEDED');
  const line = await gw.logFor('held-busy');
  assert.equal(line.status, 504);
  assert.equal(line.error, 'client_deadline_connecting');
  assert.equal(line.stage, 'not_sent');
  assert.equal(typeof line.held_ms, 'number', 'it was held');
  const tries = `${line.attempts} attempt${line.attempts === 1 ? '' : 's'}`;
  assert.match(
    String(line.details),
    new RegExp(
      `^the client's grpc-timeout of 1000 ms passed while the request waited for a target of "orders" \\(hold\\), after ${tries}; the last: connection_refused \\(connection refused \\(ECONNREFUSED\\)[^)]*\\)$`,
    ),
  );
});

test("the client's grpc-timeout passing while the call waits in a full pool's queue: DEADLINE_EXCEEDED, no attempt (nothing went upstream), its wait named", async () => {
  // One session of one stream at most, taken by a call the upstream never answers.
  const upstream = await keep(startH2(() => {}, { maxConcurrentStreams: 1 }));
  const gw = await gatewayTo(
    `{ url: "${upstream.url}" }`,
    '    pool: { max_connections: 1, queue_timeout: 5s }\n    timeouts: { response: 10s }\n',
  );
  const first = call(gw.url, { 'grpc-timeout': '3S', 'x-request-id': 'in-flight' });
  await upstream.waitForRequest(1);
  const head = await call(gw.url, { 'grpc-timeout': '1000m', 'x-request-id': 'queued' });
  assert.equal(head[':status'], 200);
  assert.equal(head['grpc-status'], '4', 'DEADLINE_EXCEEDED');
  const line = await gw.logFor('queued');
  assert.equal(line.status, 504);
  assert.equal(line.error, 'client_deadline_connecting');
  assert.equal(line.stage, 'not_sent');
  assert.equal(line.attempts, 0, 'nothing went upstream');
  assert.equal(typeof line.queued_ms, 'number');
  assert.equal(upstream.received.length, 1, 'the queued call never reached the upstream');
  await first;
});
