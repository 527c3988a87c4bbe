/**
 * candor/app's answerFailure: an app whose call to a third party (made with candor/client) got no
 * response answers its own caller as the gateway would for the same failure: 502 for a refusal or
 * garbage, 504 for the deadline, 503 with Retry-After for an open circuit; Proxy-Status naming the
 * app, the type and the third party; Cache-Control: no-store; the caller's request id; a body
 * negotiated by Accept. Real third parties misbehave on loopback; a real caller asks the app.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { readProxyStatus } from '../../../src/core/failure/proxy-status.ts';
import {
  answerFailure,
  createApp,
  type FailureAnswerOptions,
  failureAnswer,
} from '../../../src/kits/app/index.ts';
import { createFetch, type ResilientFetch, UpstreamError } from '../../../src/kits/client/index.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startSshBanner } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { closeAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

let refusing: Fault;
let garbage: Fault;
let blackhole: Fault;
let server: http.Server;
let appUrl = '';

/** Each path of the app calls one third party through its own client, and answers what it got. */
const calls = new Map<string, { url: () => string; api: ResilientFetch; options?: FailureAnswerOptions }>();

before(async () => {
  [refusing, garbage, blackhole] = await Promise.all([startRefusing(), startSshBanner(), startBlackhole()]);
  const quick = { backoff: { base: 1, cap: 2 } };
  calls.set('/refused', { url: () => `${refusing.url}/rates`, api: createFetch({ ...quick, attempts: 2 }) });
  calls.set('/minimal', {
    url: () => `${refusing.url}/rates`,
    api: createFetch({ attempts: 1 }),
    options: { name: 'shop', minimal: true },
  });
  calls.set('/named', {
    url: () => `${refusing.url}/rates`,
    api: createFetch({ attempts: 1 }),
    options: { name: 'shop', nextHop: 'rates-api' },
  });
  calls.set('/export', { url: () => `${refusing.url}/rates.csv`, api: createFetch({ attempts: 1 }) });
  calls.set('/garbage', { url: () => `${garbage.url}/rates`, api: createFetch(quick) });
  calls.set('/slow', { url: () => `${blackhole.url}/rates`, api: createFetch({ deadline: 300 }) });
  calls.set('/circuit', {
    url: () => `${refusing.url}/rates`,
    api: createFetch({ attempts: 1, circuitBreaker: { failures: 1, openTime: 60_000 } }),
  });
  const kit = createApp({ log: false, signals: [] });
  server = kit.attach(
    http.createServer(
      kit.handle(async (req, res) => {
        const path = new URL(req.url ?? '/', 'http://app').pathname;
        const late = path === '/late';
        const exporting = path === '/export';
        const call = calls.get(late ? '/refused' : path);
        if (call === undefined) return res.writeHead(404).end();
        if (late) res.writeHead(200, { 'content-type': 'text/plain' }).write('partial ');
        // An export that names and describes the file it means to send before it calls (the
        // head not sent yet), and says who may read it (a CORS header, set by a middleware).
        if (exporting) for (const [name, value] of Object.entries(EXPORT_HEADERS)) res.setHeader(name, value);
        try {
          const answer = await call.api(call.url());
          res.end(await answer.text());
        } catch (error) {
          if (!(error instanceof UpstreamError)) throw error;
          answerFailure(req, res, error, call.options ?? { name: 'shop' });
        }
      }),
    ),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => closeAll(server, refusing, garbage, blackhole));

/** What an export sets before its call: its representation's metadata, and a CORS header. */
const EXPORT_HEADERS = {
  'content-disposition': 'attachment; filename="rates.csv.gz"',
  'content-encoding': 'gzip',
  'content-language': 'de',
  'content-location': '/export/rates.csv',
  etag: '"rates-v7"',
  'last-modified': 'Tue, 24 Nov 2026 08:00:00 GMT',
  'repr-digest': 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:',
  'access-control-allow-origin': '*',
};

const ask = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${appUrl}${path}`, { method, headers: { accept: 'application/json', ...headers } });

test('a third party that refuses: 502 connection_refused, named in Proxy-Status, the caller’s request id, problem+json', async () => {
  const res = await ask('/refused', { 'x-request-id': 'caller-42' });
  assert.equal(res.status, 502);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('x-request-id'), 'caller-42');
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.headers.get('retry-after'), null);
  const member = readProxyStatus(res.headers.get('proxy-status') ?? undefined);
  assert.equal(member?.proxy, 'shop');
  assert.equal(member?.error, 'connection_refused');
  assert.equal(member?.nextHop, new URL(refusing.url).host);
  assert.match(member?.details ?? '', /ECONNREFUSED/);
  const problem = (await res.json()) as Record<string, unknown>;
  assert.equal(problem.status, 502);
  assert.equal(problem.error, 'connection_refused');
  assert.equal(problem.request_id, 'caller-42');
});

test('a third party that answers garbage: 502 http_protocol_error, sent to it once', async () => {
  const before = garbage.received.length;
  const res = await ask('/garbage');
  assert.equal(res.status, 502);
  assert.equal(readProxyStatus(res.headers.get('proxy-status') ?? undefined)?.error, 'http_protocol_error');
  assert.match(
    res.headers.get('x-request-id') ?? '',
    /^[0-9a-f-]{36}$/,
    'a new id when the caller sent none',
  );
  await res.body?.cancel();
  assert.equal(garbage.received.length - before, 1);
});

test('a third party that never answers within the call’s deadline: 504 http_response_timeout', async () => {
  const res = await ask('/slow', {}, 'GET');
  assert.equal(res.status, 504);
  const member = readProxyStatus(res.headers.get('proxy-status') ?? undefined);
  assert.equal(member?.error, 'http_response_timeout');
  assert.match(member?.details ?? '', /no response within the deadline of 300 ms \(1 attempt\)/);
  await res.body?.cancel();
});

test('a third party whose circuit is open: 503 destination_unavailable with Retry-After', async () => {
  const first = await ask('/circuit');
  assert.equal(first.status, 502);
  await first.body?.cancel();
  const res = await ask('/circuit', { accept: 'text/plain' });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('retry-after'), '60');
  assert.equal(
    readProxyStatus(res.headers.get('proxy-status') ?? undefined)?.error,
    'destination_unavailable',
  );
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.match(await res.text(), /503/);
});

test('minimal: no details and no next hop; nextHop: the name the caller may see', async () => {
  const minimal = await ask('/minimal');
  assert.equal(minimal.status, 502);
  assert.equal(minimal.headers.get('proxy-status'), 'shop; error=connection_refused');
  await minimal.body?.cancel();
  const named = await ask('/named');
  assert.equal(readProxyStatus(named.headers.get('proxy-status') ?? undefined)?.nextHop, 'rates-api');
  await named.body?.cancel();
});

test('a HEAD gets the head alone', async () => {
  const res = await ask('/refused', {}, 'HEAD');
  assert.equal(res.status, 502);
  assert.equal(readProxyStatus(res.headers.get('proxy-status') ?? undefined)?.error, 'connection_refused');
  assert.equal(await res.text(), '');
});

test('headers the app set for the representation it meant to send (its file name, coding, validators) are not on the failure answer', async () => {
  const res = await ask('/export');
  assert.equal(res.status, 502);
  assert.equal(readProxyStatus(res.headers.get('proxy-status') ?? undefined)?.error, 'connection_refused');
  for (const name of ['content-disposition', 'content-encoding', 'content-language', 'content-location'])
    assert.equal(res.headers.get(name), null, name);
  for (const name of ['etag', 'last-modified', 'repr-digest'])
    assert.equal(res.headers.get(name), null, name);
  assert.equal(
    res.headers.get('access-control-allow-origin'),
    '*',
    'what is not about the representation stays',
  );
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const problem = (await res.json()) as Record<string, unknown>;
  assert.equal(problem.error, 'connection_refused', 'the body is the problem, read as it was written');
});

test('once the head has left, the status cannot change: the response is cut, never finished as if whole', async () => {
  const res = await ask('/late');
  assert.equal(res.status, 200);
  await assert.rejects(res.text(), TypeError);
});

test("an UpstreamError without the kit's own failure record (another copy of the kit made it) is read by its type", () => {
  const error = new UpstreamError('UPSTREAM_UNREACHABLE', {
    method: 'GET',
    url: 'http://rates.example:8080/eur',
    type: 'dns_timeout',
    attempts: [],
  });
  const answer = failureAnswer(error, { accept: 'text/plain', requestId: 'r-7' }, { name: 'shop' });
  assert.equal(answer.status, 504);
  assert.equal(
    answer.headers['proxy-status'],
    'shop; error=dns_timeout; details="the lookup of the upstream\'s host name did not finish in time (0 attempts)"; next-hop="rates.example:8080"',
  );
});

test("the kit's HTML page goes with the gateway's Content-Security-Policy (it quotes the third party's words); the others with none", () => {
  const error = new UpstreamError('UPSTREAM_UNREACHABLE', {
    method: 'GET',
    url: 'http://rates.example:8080/eur',
    type: 'connection_refused',
    attempts: [],
  });
  const html = failureAnswer(error, { accept: 'text/html', requestId: 'r-7' }, { name: 'shop' });
  assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(
    html.headers['content-security-policy'],
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
  );
  const json = failureAnswer(error, { accept: 'application/json', requestId: 'r-7' }, { name: 'shop' });
  assert.equal(json.headers['content-security-policy'], undefined);
});

test('a call that ends at once because the third party asked for a pause past its deadline: 503 with the Retry-After that is left, not a 504', async () => {
  let hits = 0;
  const paused = await listenOnLoopback((_req, res) => {
    hits++;
    res.writeHead(503, { 'retry-after': '30' }).end('later\n');
  });
  try {
    const api = createFetch({ deadline: 2_000 });
    const first = await api(`${paused.url}/eur`);
    assert.equal(first.status, 503, "the call that was told gets the third party's own answer");
    await first.body?.cancel();
    const error = await api(`${paused.url}/eur`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_DEADLINE');
    assert.equal(hits, 1, 'the second call sent nothing');
    const answer = failureAnswer(error, { accept: 'text/plain', requestId: 'r-8' }, { name: 'shop' });
    assert.equal(answer.status, 503);
    // The time left of the origin's pause: its 30 s, and the spread after it this process drew
    // (at most backoff.cap's 2 s: afterRetryAfter), before which it sends nothing.
    assert.match(answer.headers['retry-after'] ?? '', /^(29|3[0-2])$/);
    assert.match(answer.headers['proxy-status'] ?? '', /^shop; error=destination_unavailable; details="/);
  } finally {
    await paused.close();
  }
});

test("a body that stalled past the client's bodyTimeout: 504 connection_read_timeout, with the stall's own details", async () => {
  let hits = 0;
  const stalling = await listenOnLoopback((_req, res) => {
    hits++;
    // The first answer is a 503 the client retries; the second's body stops after 10 of 100 bytes.
    if (hits === 1) res.writeHead(503).end('busy\n');
    else res.writeHead(200, { 'content-length': '100' }).write('0123456789');
  });
  try {
    const api = createFetch({ bodyTimeout: 100, backoff: { base: 1, cap: 2 } });
    const res = await api(`${stalling.url}/eur`);
    assert.equal(res.status, 200);
    const error = await res.text().then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_BODY_TIMEOUT');
    const answer = failureAnswer(error, { accept: 'text/plain', requestId: 'r-9' }, { name: 'shop' });
    assert.equal(answer.status, 504);
    assert.equal(
      answer.headers['proxy-status'],
      `shop; error=connection_read_timeout; details="no body bytes within the bodyTimeout of 100 ms (after 10 bytes of the body)"; next-hop="127.0.0.1:${stalling.port}"`,
    );
  } finally {
    await stalling.close();
  }
});

test("a body cut mid-way after a retried 503: 502 http_response_incomplete, with the cut's own details", async () => {
  let hits = 0;
  const cutting = await listenOnLoopback((req, res) => {
    hits++;
    // The first answer is a 503 the client retries; the second's body is reset after 10 of 100 bytes.
    if (hits === 1) res.writeHead(503).end('busy\n');
    else
      res.writeHead(200, { 'content-length': '100' }).write('0123456789', () => req.socket.resetAndDestroy());
  });
  try {
    const api = createFetch({ backoff: { base: 1, cap: 2 } });
    const res = await api(`${cutting.url}/eur`);
    assert.equal(res.status, 200);
    const error = await res.text().then(
      () => assert.fail('resolved'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'UPSTREAM_BODY_INCOMPLETE');
    const answer = failureAnswer(error, { accept: 'text/plain', requestId: 'r-9' }, { name: 'shop' });
    assert.equal(answer.status, 502);
    assert.match(
      answer.headers['proxy-status'] ?? '',
      new RegExp(
        `^shop; error=http_response_incomplete; details="response body cut short: connection reset \\(ECONNRESET\\) before the body's end \\(10 of 100 bytes\\) after [\\d.]+ ms"; next-hop="127\\.0\\.0\\.1:${cutting.port}"$`,
      ),
    );
  } finally {
    await cutting.close();
  }
});
