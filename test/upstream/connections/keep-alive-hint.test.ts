/**
 * The upstream's Keep-Alive hint (`Keep-Alive: timeout=N, max=M`): an idle connection to an
 * HTTP/1.1 upstream is never kept past what the upstream said, minus a second's margin
 * (src/upstream/connections/http1/idle-limit.ts), so that a POST never meets the upstream's own
 * idle close (502 not_idempotent, which no retry may fix). Real node:http upstreams for the
 * hints Node sends, raw TCP ones for the bytes Node never sends; retries off throughout, so a
 * stale connection would show as the client's 502.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type RawConnection, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import type { Dispatcher } from '../../../src/upstream/connections/exchange-contract.ts';
import { request } from '../../helpers/http-client.ts';
import { poolOf, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** A gateway with route `/` to upstream `app` at `url`, retries off; `pool` its pool's fields. */
async function through(t: TestContext, upstream: Fault, pool = '', listener = ''): Promise<TestGateway> {
  let gw: TestGateway | undefined;
  t.after(async () => {
    await upstream.close();
    await gw?.close();
  });
  gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
${pool ? `    pool: { ${pool} }\n` : ''}`,
    {},
    listener,
  );
  return gw;
}

/** A POST through the gateway: its status, and the upstream connection (1-based) the request came on. */
async function post(
  gw: TestGateway,
  upstream: Fault,
  id: string,
): Promise<{ status: number; connection: number }> {
  const before = upstream.received.length;
  const res = await request(gw.url, {
    method: 'POST',
    path: `/${id}`,
    body: 'payload',
    headers: { 'x-request-id': id },
  });
  const received = upstream.received.slice(before).find((r) => r.path === `/${id}`);
  return { status: res.status, connection: received?.connection ?? 0 };
}

/** A raw upstream answering every request with `fields(its 1-based index on the server)` and `ok`, never closing. */
function rawAnswering(fields: (index: number) => string): Promise<Fault> {
  return startRawFault(async (connection: RawConnection) => {
    for (;;) {
      const req = await connection.nextRequest({ body: true });
      await connection.write(`HTTP/1.1 200 OK\r\n${fields(req.index)}Content-Length: 2\r\n\r\nok`);
    }
  });
}

describe('the timeout a node:http upstream announces', () => {
  test('keepAliveTimeout 300 ms (Keep-Alive: timeout=0): no connection is kept; POSTs after its close all get 200 on new connections', async (t) => {
    const upstream = await startEcho({ keepAliveTimeout: 300, keepAliveTimeoutBuffer: 0 });
    const gw = await through(t, upstream);
    for (let i = 1; i <= 3; i++) {
      assert.deepEqual(await post(gw, upstream, `p${i}`), { status: 200, connection: i });
      // Each one the gateway closed, right after its response: not the upstream 300 ms later.
      assert.equal(await upstream.connectionLog[i - 1].ended, 'fin');
      await sleep(350);
    }
    assert.equal(upstream.connectionLog.length, 3);
    assert.equal((await gw.logFor('p3')).reused, false);
  });

  test('keepAliveTimeout 2 s (timeout=2): reused at once; after 1.3 s idle the POST goes on a new connection, 200', async (t) => {
    // Node 24 closes 1 s after the 2 s it announces (keepAliveTimeoutBuffer): room for a late timer here.
    const upstream = await startEcho({ keepAliveTimeout: 2000 });
    const gw = await through(t, upstream);
    assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
    assert.deepEqual(await post(gw, upstream, 'b'), { status: 200, connection: 1 });
    assert.equal((await gw.logFor('b')).reused, true);
    // Kept 2 s − 1 s: by 1.3 s the gateway has let go of it, before the upstream would.
    await sleep(1300);
    assert.equal(await upstream.connectionLog[0].ended, 'fin', 'the gateway closed it, not the upstream');
    assert.deepEqual(await post(gw, upstream, 'c'), { status: 200, connection: 2 });
    assert.equal((await gw.logFor('c')).reused, false);
  });

  test('a hint longer than pool.idle_timeout (timeout=60 against 200ms): idle_timeout stands', async (t) => {
    const upstream = await startEcho({ keepAliveTimeout: 60_000 });
    const gw = await through(t, upstream, 'idle_timeout: 200ms');
    assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
    const started = performance.now();
    assert.equal(await upstream.connectionLog[0].ended, 'fin');
    assert.ok(performance.now() - started < 1500, 'closed at idle_timeout, not at the hint');
    assert.deepEqual(await post(gw, upstream, 'b'), { status: 200, connection: 2 });
  });

  test('no hint (Connection: keep-alive alone): the connection is reused after 1.3 s idle, as pool.idle_timeout allows', async (t) => {
    const upstream = await startEcho({ keepAliveTimeout: 10_000, announceKeepAlive: false });
    const gw = await through(t, upstream);
    assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
    await sleep(1300);
    assert.deepEqual(await post(gw, upstream, 'b'), { status: 200, connection: 1 });
    assert.equal((await gw.logFor('b')).reused, true);
  });
});

describe('hints node:http never sends', () => {
  test('Keep-Alive: timeout=1 and a close after exactly 1 s idle: POSTs about 1 s apart never see a 502', async (t) => {
    const upstream = await startRawFault(async (connection) => {
      for (;;) {
        const req = await connection.nextRequest({ body: true });
        await connection.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok');
        // Closes 1 s after its answer unless another request has come by then.
        const index = req.index;
        setTimeout(() => {
          if (upstream.received.at(-1)?.index === index) connection.socket.end();
        }, 1000);
      }
    });
    const gw = await through(t, upstream);
    for (let i = 1; i <= 4; i++) {
      const { status, connection } = await post(gw, upstream, `s${i}`);
      assert.equal(status, 200, `POST ${i}`);
      assert.equal(connection, i, 'a hint of the margin or less: never reused');
      await sleep(i % 2 === 0 ? 1000 : 960);
    }
  });

  test('each response says it anew: timeout=2 then timeout=60, and the connection is still reused after 1.3 s', async (t) => {
    const upstream = await rawAnswering((index) => `Keep-Alive: timeout=${index === 1 ? 2 : 60}\r\n`);
    const gw = await through(t, upstream);
    assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
    assert.deepEqual(await post(gw, upstream, 'b'), { status: 200, connection: 1 });
    await sleep(1300);
    assert.deepEqual(await post(gw, upstream, 'c'), { status: 200, connection: 1 });
  });

  test('each response says it anew: timeout=60 then timeout=0, and the connection is closed after the second', async (t) => {
    const upstream = await rawAnswering((index) => `Keep-Alive: timeout=${index === 1 ? 60 : 0}\r\n`);
    const gw = await through(t, upstream);
    assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
    assert.deepEqual(await post(gw, upstream, 'b'), { status: 200, connection: 1 });
    assert.equal(await upstream.connectionLog[0].ended, 'fin');
    assert.deepEqual(await post(gw, upstream, 'c'), { status: 200, connection: 2 });
  });

  const closing = [
    'Keep-Alive: TIMEOUT = 0\r\n',
    'Keep-Alive: timeout=30, timeout=1\r\n',
    'Keep-Alive: max=50\r\nkeep-alive: timeout="1"\r\n',
    'Keep-Alive: timeout=30, max=1\r\n',
    'Keep-Alive: max=0\r\n',
  ];
  for (const fields of closing) {
    test(`${JSON.stringify(fields)}: the gateway closes the connection after the response; the next POST opens another`, async (t) => {
      const upstream = await rawAnswering(() => fields);
      const gw = await through(t, upstream);
      assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
      assert.deepEqual(
        await post(gw, upstream, 'b'),
        { status: 200, connection: 2 },
        'not reused, even at once',
      );
      assert.equal(await upstream.connectionLog[0].ended, 'fin', 'closed by the gateway');
    });
  }

  test('malformed hints are ignored: 8 POSTs, each answered with another, all reuse one connection', async (t) => {
    const malformed = [
      'timeout=-1',
      'timeout=abc',
      'timeout=1.5',
      'timeout=0s',
      'timeout=99999999999999999999',
      'timeout',
      'xtimeout=0, max=none',
      'timeout="0',
    ];
    const upstream = await rawAnswering((index) => `Keep-Alive: ${malformed[index - 1] ?? ''}\r\n`);
    const gw = await through(t, upstream);
    for (let i = 0; i < malformed.length; i++)
      assert.deepEqual(await post(gw, upstream, `m${i}`), { status: 200, connection: 1 }, malformed[i]);
  });
});

test('an idle connection past its limit is not handed out although its timer has not fired (a busy loop)', async (t) => {
  const upstream = await startEcho({ keepAliveTimeout: 60_000 });
  const gw = await through(t, upstream, 'idle_timeout: 1s');
  assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
  const pool = poolOf(gw);
  await waitUntil('idle', () => pool.stats().idle === 1);
  // The loop held 1.2 s, then a request for a connection in the same turn: the idle timer
  // (1 s) has had no chance to run.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1200);
  let given: Dispatcher | undefined;
  let now = true;
  pool.acquire({
    onConnection: (connection) => {
      given = connection;
      assert.equal(now, false, 'not the parked connection, handed out at once');
    },
    onConnectFailure: (failure) => assert.fail(failure.message),
  });
  now = false;
  await waitUntil('given a connection', () => given !== undefined);
  await waitUntil('a second upstream connection', () => upstream.connectionLog.length === 2);
  assert.equal(await upstream.connectionLog[0].ended, 'fin', 'the stale one closed by the gateway');
});

describe('the hint is hop-by-hop', () => {
  test("over HTTP/1.1 the client's Keep-Alive is the gateway's own, never the upstream's", async (t) => {
    const upstream = await rawAnswering(() => 'Keep-Alive: timeout=60, max=7\r\n');
    const gw = await through(t, upstream);
    const res = await request(gw.url, { path: '/', headers: { connection: 'keep-alive' } });
    assert.equal(res.status, 200);
    const fields = res.rawHeaders.filter((_, i) => i % 2 === 0 && /^keep-alive$/i.test(res.rawHeaders[i]));
    assert.equal(fields.length, 1);
    assert.equal(res.headers['keep-alive'], 'timeout=5', "the listener's keep-alive timeout");
  });

  test('over HTTP/2 the upstream Keep-Alive does not reach the client', async (t) => {
    const upstream = await rawAnswering(() => 'Keep-Alive: timeout=60, max=7\r\n');
    const gw = await through(t, upstream, '', 'http2: true');
    const session = http2.connect(gw.url);
    t.after(() => session.close());
    const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      stream.on('response', (h) => {
        stream.resume();
        stream.on('end', () => resolve(h));
      });
      stream.on('error', reject);
    });
    assert.equal(head[':status'], 200);
    assert.equal(head['keep-alive'], undefined);
    assert.equal(head.connection, undefined);
  });
});

test("a POST arriving in the turn the upstream's FIN on its idle connection is read goes on a new connection, 200", async (t) => {
  let first: RawConnection | undefined;
  const upstream = await startRawFault(async (connection: RawConnection) => {
    first ??= connection;
    for (;;) {
      await connection.nextRequest({ body: true });
      await connection.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }
  });
  const gw = await through(t, upstream);
  assert.deepEqual(await post(gw, upstream, 'a'), { status: 200, connection: 1 });
  const client = net.connect(gw.port, '127.0.0.1');
  t.after(() => client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  const answer = new Promise<string>((resolve) => client.once('data', (d: Buffer) => resolve(d.toString())));
  // The upstream closes its idle connection without a word, and the POST goes out once its FIN
  // has: the gateway reads both in one turn, the FIN first. It had not let go of the connection
  // yet (Node closes it a turn later): the POST was written after the FIN, and failed, unsent.
  (first as RawConnection).socket.end(() => {
    client.write('POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nX-Request-Id: b\r\n\r\npayload');
  });
  assert.match(await answer, /^HTTP\/1\.1 200 /);
  assert.deepEqual(
    upstream.received.map((r) => [r.path, r.connection]),
    [
      ['/a', 1],
      ['/b', 2],
    ],
  );
  assert.equal((await gw.logFor('b')).reused, false);
});
