/**
 * A gRPC client's deadline reaches the upstream as what is left of it when each attempt's
 * request goes out: reduced by an earlier attempt and the retry's backoff, capped by the
 * gateway's own `timeouts.total` when that is shorter, and always grpc-timeout's grammar (at
 * most 8 digits and one unit). Before, the client's `grpc-timeout` went upstream as it came, so
 * an upstream worked on past the moment the client (and the gateway) had given up. A call
 * without one gets none (the gateway bounds it itself, as Envoy does by default).
 */
import assert from 'node:assert/strict';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { test } from 'node:test';
import { startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { parseGrpcTimeout } from '../../../src/proxy/accept/h2/grpc-timeout.ts';
import { startAuthService } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** grpc-timeout's grammar (PROTOCOL-HTTP2.md): 1 to 8 digits, one unit. */
const GRPC_TIMEOUT = /^[0-9]{1,8}[HMSmun]$/;

/** How long the refusing upstream holds its first stream before refusing it. */
const HELD_MS = 300;

/** An h2c upstream answering OK with gRPC's trailers; its first stream is held, then refused (REFUSED_STREAM: never processed, so retried). */
function startRefusingFirst(refuseFirst: boolean) {
  let streams = 0;
  return startH2((stream) => {
    if (refuseFirst && ++streams === 1) {
      const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM), HELD_MS);
      stream.on('close', () => clearTimeout(timer));
      return;
    }
    stream.resume();
    stream.on('end', () => {
      if (stream.closed) return;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end();
    });
  });
}

/** One gRPC call over h2c with these extra fields, without a message (the stream ends with its HEADERS); bounded in time. */
function call(
  session: http2.ClientHttp2Session,
  headers: Record<string, string | string[]>,
): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      {
        ':method': 'POST',
        ':path': '/shop.Orders/Get',
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      },
      { endStream: true },
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
      resolve(head);
    });
  });
}

async function gatewayTo(url: string, upstreamFields: string) {
  return keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: orders
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "${url}" }]
${upstreamFields}`,
      {},
      'http2: true',
    ),
  );
}

test("a retry tells the upstream what is left of the client's grpc-timeout: less the held first attempt and the backoff", async () => {
  const upstream = await keep(startRefusingFirst(true));
  const gw = await gatewayTo(
    upstream.url,
    '    retries: { attempts: 2, backoff: { base: 50ms, max: 50ms } }\n    timeouts: { total: 60s }\n',
  );
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    const head = await call(session, { 'grpc-timeout': '20S', 'x-request-id': 'retried' });
    assert.equal(head[':status'], 200);
    const line = await gw.logFor('retried');
    assert.equal((line.tries as unknown[]).length, 2, 'refused, then answered');
    const first = (await upstream.waitForRequest(1)).headers['grpc-timeout'];
    const second = (await upstream.waitForRequest(2)).headers['grpc-timeout'];
    assert.match(first, GRPC_TIMEOUT);
    assert.match(second, GRPC_TIMEOUT);
    const firstMs = parseGrpcTimeout(first) as number;
    const secondMs = parseGrpcTimeout(second) as number;
    assert.ok(firstMs <= 20_000, `the first attempt is told at most the client's 20 s: ${first}`);
    // The retry went out after the first stream was held for HELD_MS (less a timer's rounding).
    assert.ok(secondMs <= 20_000 - (HELD_MS - 50), `the retry is told less the time spent: ${second}`);
    assert.ok(secondMs > 0, `time was left: ${second}`);
  } finally {
    session.destroy();
  }
});

test("the gateway's total timeout caps the deadline told upstream; a call without grpc-timeout gets none", async () => {
  const upstream = await keep(startRefusingFirst(false));
  const gw = await gatewayTo(upstream.url, '    timeouts: { response: 5s, total: 5s }\n');
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    assert.equal((await call(session, { 'grpc-timeout': '1H' }))[':status'], 200);
    const capped = (await upstream.waitForRequest(1)).headers['grpc-timeout'];
    assert.match(capped, GRPC_TIMEOUT);
    const cappedMs = parseGrpcTimeout(capped) as number;
    assert.ok(cappedMs <= 5_000 && cappedMs > 0, `at most the total timeout's 5 s: ${capped}`);

    assert.equal((await call(session, {}))[':status'], 200);
    assert.equal((await upstream.waitForRequest(2)).headers['grpc-timeout'], undefined);

    // Off the grammar (a fraction, a unit gRPC has not, 9 digits, a sign): not the gateway's
    // deadline, and passed on as it came, for the upstream's gRPC server to judge (grpc-go and
    // grpc-js refuse the call, INTERNAL), as it would without the gateway.
    const offGrammar = ['1.5S', '1x', '123456789S', '-1S'];
    for (const [i, value] of offGrammar.entries()) {
      assert.equal((await call(session, { 'grpc-timeout': value }))[':status'], 200, value);
      assert.equal((await upstream.waitForRequest(3 + i)).headers['grpc-timeout'], value);
    }
  } finally {
    session.destroy();
  }
  // Not a gRPC call (HTTP/1.1): grpc-timeout is just a field, passed on as it came.
  const r = await request(gw.url, { path: '/plain', headers: { 'grpc-timeout': '1H' } });
  assert.equal(r.status, 200);
  assert.equal((await upstream.waitForRequest(7)).headers['grpc-timeout'], '1H');
});

// gRPC sends one grpc-timeout. Two (an intermediary that added its own) are held to the shorter,
// the one every sender asked for at most, and the upstream is told one: as sent, grpc-go reads
// the last, and the gateway none at all (the two joined were off the grammar).
test('two grpc-timeout fields: the call is held to the shorter, and the upstream is told one field of what is left of it', async () => {
  const upstream = await keep(startRefusingFirst(false));
  const gw = await gatewayTo(upstream.url, '    timeouts: { response: 60s, total: 60s }\n');
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    assert.equal((await call(session, { 'grpc-timeout': ['2S', '1H'] }))[':status'], 200);
    const told = (await upstream.waitForRequest(1)).headers['grpc-timeout'];
    assert.match(told, GRPC_TIMEOUT, 'one field, in the grammar');
    const toldMs = parseGrpcTimeout(told) as number;
    assert.ok(toldMs <= 2_000 && toldMs > 0, `at most the shorter 2 s: ${told}`);
  } finally {
    session.destroy();
  }
});

/** How long the slow auth service takes before it lets a call through. */
const AUTH_MS = 400;

/** A gateway whose gRPC route asks a forward-auth service that takes AUTH_MS to allow each call. */
async function gatewayBehindSlowAuth(upstreamUrl: string) {
  const auth = await keep(
    startAuthService((_req, res) => {
      setTimeout(() => res.writeHead(200).end(), AUTH_MS);
    }),
  );
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: orders
    auth: { forward: { url: "${auth.url}" } }
upstreams:
  orders:
    protocol: h2c
    targets: [{ url: "${upstreamUrl}" }]
    timeouts: { total: 60s }
`,
      {},
      'http2: true',
    ),
  );
  return { auth, gw };
}

test("the client's grpc-timeout runs from its request's arrival: an auth hop's time before the first attempt is spent of it", async () => {
  const upstream = await keep(startRefusingFirst(false));
  const { auth, gw } = await gatewayBehindSlowAuth(upstream.url);
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    const head = await call(session, { 'grpc-timeout': '20S', 'x-request-id': 'after-auth' });
    assert.equal(head[':status'], 200);
    assert.equal(auth.asked.length, 1);
    const told = (await upstream.waitForRequest(1)).headers['grpc-timeout'];
    assert.match(told, GRPC_TIMEOUT);
    const toldMs = parseGrpcTimeout(told) as number;
    // The auth hop held the call AUTH_MS (less a timer's rounding) before the attempt.
    assert.ok(toldMs <= 20_000 - (AUTH_MS - 50), `the upstream is told less the auth hop's time: ${told}`);

    // Spent whole while the auth hop decided: no attempt, the client's own deadline.
    const late = await call(session, { 'grpc-timeout': '150m', 'x-request-id': 'spent-at-auth' });
    assert.equal(late[':status'], 200);
    assert.equal(late['grpc-status'], '4', 'DEADLINE_EXCEEDED');
    const line = await gw.logFor('spent-at-auth');
    assert.equal(line.error, 'client_deadline_connecting', 'nothing was sent');
    assert.equal(
      line.details,
      "the client's grpc-timeout of 150 ms passed before the first attempt: nothing was sent",
    );
    assert.equal(line.stage, 'not_sent');
    assert.equal(line.attempts, 0);
    assert.equal(upstream.received.length, 1, 'the spent call never reached the upstream');
  } finally {
    session.destroy();
  }
});
