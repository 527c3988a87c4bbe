/**
 * candor/client's retry rules against a real `candor serve`, by the Proxy-Status it answers
 * with: a POST that met a 504 http_response_timeout may have been processed, so it goes once
 * (unless it carries an Idempotency-Key); one that met a 502 connection_refused never reached
 * the upstream, so it goes again; a stream body goes once; every failed attempt is reported.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { type AttemptReport, createFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { type ClientGateway, startClientGateway } from './gateway-fixture.ts';

/** The gateway's own retries and ejection off: each client attempt is one request upstream. */
const plain = '    outlier_detection: { consecutive_failures: 0 }\n    retries: { attempts: 1 }\n';

let hang: Fault;
let down: Fault;
/** The /recover upstream's port: nothing listens there until the test brings the upstream back. */
let recoveringPort: number;
/** Announces 4 MiB, sends 2 MiB (past the gateway's buffer: its head goes first); the test resets it. */
let cutting: http.Server;
/** Resets the cutting upstream's connection, once a request came to it. */
let cut: Promise<() => void>;
let gateway: ClientGateway;
/** Answers its first request 502 (its own status), then never answers another. */
let flaky: http.Server;

before(async () => {
  let answered = 0;
  flaky = http.createServer((_req, res) => {
    if (answered++ === 0) res.writeHead(502).end('down for a moment');
  });
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
  const flakyPort = (flaky.address() as { port: number }).port;
  hang = await startBlackhole();
  down = await startRefusing();
  recoveringPort = await freePort();
  let resetter: (reset: () => void) => void = () => {};
  cut = new Promise((resolve) => {
    resetter = resolve;
  });
  cutting = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': 4 << 20 });
    res.write(Buffer.alloc(2 << 20));
    resetter(() => req.socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => cutting.listen(0, '127.0.0.1', resolve));
  const cuttingPort = (cutting.address() as { port: number }).port;
  gateway = await startClientGateway({
    '/hang': `    targets:\n      - url: ${hang.url}\n    timeouts: { response: 300ms }\n${plain}`,
    '/down': `    targets:\n      - url: ${down.url}\n${plain}`,
    '/recover': `    targets:\n      - url: http://127.0.0.1:${recoveringPort}\n${plain}`,
    '/maint': `    targets:\n      - url: ${hang.url}\n    maintenance: { retry_after: 1s }\n`,
    '/cut': `    targets:\n      - url: http://127.0.0.1:${cuttingPort}\n${plain}`,
    '/flaky': `    targets:\n      - url: http://127.0.0.1:${flakyPort}\n${plain}`,
  });
});

after(async () => {
  await gateway?.stop();
  await Promise.all([hang?.close(), down?.close()]);
  cutting?.closeAllConnections();
  cutting?.close();
  flaky?.closeAllConnections();
  flaky?.close();
});

test('a POST that got a 504 http_response_timeout is not retried: the upstream saw it exactly once', async () => {
  const reports: AttemptReport[] = [];
  const api = createFetch({ onAttemptFailed: (r) => reports.push(r) });
  const res = await api(`${gateway.url}/hang/order`, { method: 'POST', body: '{"sku":1}' });
  assert.equal(res.status, 504);
  assert.match(res.headers.get('proxy-status') ?? '', /^client-edge; error=http_response_timeout;/);
  await res.arrayBuffer();
  assert.equal(hang.received.length, 1);
  assert.equal(reports.length, 1);
  assert.equal(reports[0].type, 'http_response_timeout');
  assert.equal(reports[0].retry, false);
  assert.equal(reports[0].reason, 'not_idempotent');
});

test('the same POST with an Idempotency-Key (added by the client) is retried, with the same key each time', async () => {
  const before = hang.received.length;
  const reports: AttemptReport[] = [];
  const api = createFetch({
    idempotencyKey: true,
    backoff: { base: 10, cap: 50 },
    onAttemptFailed: (r) => reports.push(r),
  });
  const res = await api(`${gateway.url}/hang/order`, { method: 'POST', body: '{"sku":1}' });
  assert.equal(res.status, 504);
  await res.arrayBuffer();
  const seen = hang.received.slice(before);
  assert.equal(seen.length, 3, 'three attempts (the default) reached the upstream');
  const keys = new Set(seen.map((r) => r.headers['idempotency-key']));
  assert.equal(keys.size, 1, 'one key for every attempt of the call');
  assert.match([...keys][0], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(
    reports.map((r) => [r.retry, r.reason]),
    [
      [true, 'idempotency_key'],
      [true, 'idempotency_key'],
      [false, 'attempts'],
    ],
  );
});

test('a POST that got a 502 connection_refused is retried, and succeeds once the upstream is back; a replayable stream body arrives whole', async () => {
  const received: { method: string; sha256: string; length: number }[] = [];
  let upstream: http.Server | undefined;
  const reports: AttemptReport[] = [];
  // Large enough to be still coming when the gateway answers the refusal: its lingering close
  // lets the client read the 502 rather than EPIPE.
  const payload = Buffer.alloc(1024 * 1024, 'candor');
  const api = createFetch({
    backoff: { base: 50, cap: 100 },
    onAttemptFailed: (report) => {
      reports.push(report);
      // The upstream comes back on its port as soon as the first attempt has failed.
      if (report.attempt !== 1 || upstream) return;
      upstream = http.createServer((req, res) => {
        const hash = createHash('sha256');
        let length = 0;
        req.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          length += chunk.length;
        });
        req.on('end', () => {
          received.push({ method: req.method ?? '', sha256: hash.digest('hex'), length });
          res.end('created\n');
        });
      });
      // Listening before the retry's backoff timer can fire (the bind is a tick away).
      upstream.listen(recoveringPort, '127.0.0.1');
    },
  });
  try {
    const res = await api(`${gateway.url}/recover/upload`, {
      method: 'POST',
      // A function marks a stream replayable: each attempt gets a fresh one.
      body: () =>
        new ReadableStream({
          start(controller) {
            for (let i = 0; i < payload.length; i += 2048) controller.enqueue(payload.subarray(i, i + 2048));
            controller.close();
          },
        }),
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'created\n');
    assert.deepEqual(
      reports.map((r) => [r.status, r.type, r.reason]),
      [[502, 'connection_refused', 'not_sent']],
    );
    assert.deepEqual(received, [
      { method: 'POST', sha256: createHash('sha256').update(payload).digest('hex'), length: payload.length },
    ]);
  } finally {
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  }
});

test('a non-replayable stream body is sent once and never retried, and the report says why', async () => {
  const before = gateway.requestsTo('/down').length;
  const reports: AttemptReport[] = [];
  const api = createFetch({ onAttemptFailed: (r) => reports.push(r) });
  const res = await api(`${gateway.url}/down/stream`, {
    method: 'PUT',
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('once'));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  assert.equal(res.status, 502);
  await res.arrayBuffer();
  assert.equal(reports.length, 1);
  assert.equal(reports[0].type, 'connection_refused');
  assert.equal(reports[0].reason, 'body_not_replayable');
  assert.match(reports[0].why, /stream .* cannot be sent again/);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(gateway.requestsTo('/down').length - before, 1);
});

test('onAttemptFailed gets each attempt: number, status, the parsed Proxy-Status, the request id, the delay and why', async () => {
  const reports: AttemptReport[] = [];
  const api = createFetch({
    attempts: 2,
    backoff: { base: 20, cap: 40 },
    onAttemptFailed: (r) => reports.push(r),
  });
  const res = await api(`${gateway.url}/down/report`);
  assert.equal(res.status, 502);
  await res.arrayBuffer();
  assert.equal(reports.length, 2);
  const [first, last] = reports;
  assert.equal(first.attempt, 1);
  assert.equal(first.method, 'GET');
  assert.equal(first.url, `${gateway.url}/down/report`);
  assert.equal(first.status, 502);
  assert.equal(first.type, 'connection_refused');
  assert.equal(first.proxyStatus?.proxy, 'client-edge');
  assert.equal(first.proxyStatus?.error, 'connection_refused');
  assert.equal(first.proxyStatus?.nextHop, 'u1');
  assert.match(first.proxyStatus?.details ?? '', /connection refused \(ECONNREFUSED\)/);
  assert.equal(first.detail, first.proxyStatus?.details);
  assert.equal(first.retry, true);
  assert.equal(first.reason, 'not_sent');
  assert.match(first.why, /nothing reached the upstream/);
  assert.ok(first.delayMs !== undefined && first.delayMs >= 0 && first.delayMs <= 20);
  assert.equal(last.attempt, 2);
  assert.equal(last.retry, false);
  assert.equal(last.reason, 'attempts');
  assert.equal(last.delayMs, undefined);
  assert.equal(last.requestId, res.headers.get('x-request-id'));
  // The ids are the gateway's: each names its access line.
  await waitUntil('both attempts logged', () => gateway.requestsTo('/down/report').length === 2);
  const ids = gateway.requestsTo('/down/report').map((line) => line.req_id);
  assert.deepEqual(ids, [first.requestId, last.requestId]);
});

test('a POST that got the gateway’s own 503 (maintenance, nothing forwarded) is retried after its Retry-After', async () => {
  const before = hang.received.length;
  const reports: AttemptReport[] = [];
  const api = createFetch({ onAttemptFailed: (r) => reports.push(r) });
  const res = await api(`${gateway.url}/maint/order`, { method: 'POST', body: '{"sku":2}' });
  assert.equal(res.status, 503);
  assert.match(res.headers.get('proxy-status') ?? '', /^client-edge; error=proxy_internal_response;/);
  await res.arrayBuffer();
  assert.deepEqual(
    reports.map((r) => [r.type, r.retryAfterMs, r.reason]),
    [
      ['proxy_internal_response', 1000, 'not_sent'],
      ['proxy_internal_response', 1000, 'not_sent'],
      ['proxy_internal_response', 1000, 'attempts'],
    ],
  );
  await waitUntil('three attempts logged', () => gateway.requestsTo('/maint').length === 3);
  assert.equal(hang.received.length, before, 'nothing was forwarded');
});

test("a body the gateway cut after its head: the UpstreamError names the request id of that answer, the id of the gateway's line", async () => {
  const api = createFetch();
  const res = await api(`${gateway.url}/cut/export`);
  assert.equal(res.status, 200);
  // The head came through the gateway: the upstream now resets its connection mid-body.
  (await cut)();
  const id = res.headers.get('x-request-id');
  assert.ok(id);
  const error = await res.arrayBuffer().then(
    () => assert.fail('the body was cut'),
    (err: unknown) => err,
  );
  assert.ok(error instanceof UpstreamError, String(error));
  assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
  assert.equal(error.type, 'http_response_incomplete');
  // No failed attempt before the one that answered: the id is nowhere else in the error.
  assert.deepEqual(error.attempts, []);
  assert.equal(error.requestId, id);
  assert.match(error.message, new RegExp(`request id ${id}`));
  await waitUntil('the cut logged', () => gateway.requestsTo('/cut/export').length === 1);
  const [line] = gateway.requestsTo('/cut/export');
  assert.equal(line.req_id, id);
  assert.equal(line.error, 'http_response_incomplete');
});

test('a call that ends with no response after an answer came: the UpstreamError names the request id of that last answer', async () => {
  // The first attempt gets the gateway's 502 (the upstream's own), the retry waits in vain
  // until the deadline: the last answer that came is the 502, the id of the gateway's line.
  const api = createFetch({ deadline: 2_000, attempts: 2 });
  const error = await api(`${gateway.url}/flaky/orders`).then(
    (res) => assert.fail(`a response came: ${res.status}`),
    (err: unknown) => err,
  );
  assert.ok(error instanceof UpstreamError, String(error));
  assert.equal(error.code, 'UPSTREAM_DEADLINE');
  const [answered, cut] = error.attempts;
  assert.equal(answered.status, 502);
  assert.ok(answered.requestId);
  assert.equal(cut.requestId, undefined);
  assert.equal(error.requestId, answered.requestId);
  assert.match(error.message, new RegExp(`request id ${answered.requestId}`));
  await waitUntil('the 502 logged', () => gateway.requestsTo('/flaky/orders').length >= 1);
  assert.equal(gateway.requestsTo('/flaky/orders')[0].req_id, answered.requestId);
});
