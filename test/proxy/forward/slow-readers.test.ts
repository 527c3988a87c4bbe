/**
 * Slow readers cannot hold an upstream connection longer than a bound: a response up to
 * routes[].limits.buffer is taken whole from the upstream (its connection goes back to the
 * pool at once); past it the rest is spooled to disk (response-spool.test.ts), or, with no
 * room for it there, the upstream waits for the client; limits.send_timeout cuts a client that
 * takes no byte for that long, logged as such.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import v8 from 'node:v8';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { RequestSession } from '../../../src/proxy/session/request-session.ts';
import { rawUntil, request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const MiB = 1024 * 1024;
const BIG = Buffer.alloc(8 * MiB, 'z');

/** GET /big: 8 MiB; anything else: "ok". Counts the /big responses still being written. */
async function startUpstream() {
  const state = { bigStarted: 0, bigOpen: 0 };
  const upstream = await listenOnLoopback((req, res) => {
    if (req.url === '/big') {
      state.bigStarted++;
      state.bigOpen++;
      res.on('close', () => state.bigOpen--);
      res.writeHead(200, { 'content-length': BIG.length });
      res.end(BIG);
      return;
    }
    res.end('ok');
  });
  return { ...upstream, state };
}

/** A client that asks for /big (or `path`) and never reads a byte of the answer. */
function nonReader(port: number, id: string, path = '/big'): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\n\r\n`);
  return socket;
}

test('130 clients asking for 8 MiB and not reading do not cost legitimate GETs their answers (scaled: 10 against a pool of 8)', async (t) => {
  // The bound: limits.send_timeout (500 ms here) cuts a client that takes no byte; each
  // non-reader holds an upstream connection at most that long. Before it, they held the pool
  // until timeouts.total (60 s) and the GETs waited out the queue into a 503.
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
limits: { send_timeout: 500ms }
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    pool: { max_connections: 8, queue_timeout: 3s }
`);
  t.after(() => gw.close());
  const attackers = Array.from({ length: 10 }, (_, i) => nonReader(gw.port, `reader-${i}`));
  t.after(() => {
    for (const a of attackers) a.destroy();
  });
  await waitUntil('the pool is held by the non-readers', () => upstream.state.bigStarted >= 8, 3000);
  const answers = await Promise.all(Array.from({ length: 8 }, () => request(gw.url, { path: '/ok' })));
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(8).fill(200),
  );
  const line = await gw.logFor('reader-0');
  assert.equal(line.status, 200, 'the upstream answered; the status had gone out');
  assert.equal(line.error, 'http_request_error');
  assert.equal(line.details, 'client took no response bytes for 500 ms (limits.send_timeout)');
  assert.equal(line.stage, 'body_streaming');
  assert.equal(line.client_aborted, false, 'the gateway cut it, the client did not leave');
});

test('a response within limits.buffer is taken whole: a client that does not read holds no upstream connection', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  // send_timeout is the default (30 s): only the buffer frees the one connection here.
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 16MiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    pool: { max_connections: 1, queue_timeout: 1s }
`);
  const reader = nonReader(gw.port, 'whole');
  // Hooks run in the order they are added: the reader goes before the gateway's close, which
  // would wait for it until send_timeout (30 s).
  t.after(() => reader.destroy());
  t.after(() => gw.close());
  await waitUntil('the upstream wrote the whole response', () => upstream.state.bigStarted === 1, 3000);
  await waitUntil('the upstream response is over', () => upstream.state.bigOpen === 0, 3000);
  const res = await request(gw.url, { path: '/ok' });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'ok');
});

test('a response held for its client and then taken is let go at once: the send_timeout timer does not keep its request alive', async (t) => {
  // Before: the timer armed by the first write left waiting stayed set until send_timeout
  // (30 s) after the client took everything, holding the request's session, exchange and
  // record; at 8,000 responses of 64 KiB a second a worker grew by 45 MiB a second.
  const upstream = await listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'content-length': MiB });
    res.end(BIG.subarray(0, MiB));
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  t.after(() => gw.close());
  const before = v8.queryObjects(RequestSession, { format: 'count' });
  for (let i = 0; i < 40; i++) {
    const res = await request(gw.url, { path: '/one-mib', headers: { 'x-request-id': `whole-${i}` } });
    assert.equal(res.body.length, MiB);
  }
  await gw.logFor('whole-39');
  const left = v8.queryObjects(RequestSession, { format: 'count' }) - before;
  assert.ok(left <= 2, `${left} of 40 finished requests are still held`);
});

test('a client that leaves while its response is held for it takes the send_timeout timer with it', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  const gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`);
  t.after(() => gw.close());
  const before = v8.queryObjects(RequestSession, { format: 'count' });
  for (let i = 0; i < 20; i++) {
    const reader = nonReader(gw.port, `left-${i}`);
    await waitUntil('the upstream answered', () => upstream.state.bigStarted === i + 1, 3000);
    reader.destroy();
    const line = await gw.logFor(`left-${i}`);
    assert.equal(line.client_aborted, true);
  }
  const left = v8.queryObjects(RequestSession, { format: 'count' }) - before;
  assert.ok(left <= 2, `${left} of 20 requests whose client left are still held`);
});

test("the total timeout passing while the upstream waits for a client that does not read: the client's http_request_error, not the upstream's stall, and no target is judged", async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.close());
  // No spool: past the buffer the upstream waits for the client, and timeouts.total (which covers
  // the body here) passes first.
  const gw = await startTestGateway(`name: edge-1
limits:
  spool: { max_total: 0 }
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    timeouts: { response: 1s, total: 1500ms, total_includes_body: true }
    outlier_detection: { consecutive_failures: 1 }
`);
  t.after(() => gw.close());
  const reader = nonReader(gw.port, 'unread');
  t.after(() => reader.destroy());
  const line = await gw.logFor('unread');
  assert.equal(line.status, 200, "the upstream's, which went out");
  assert.equal(line.error, 'http_request_error', JSON.stringify(line));
  assert.equal(line.shape, 'client');
  assert.equal(
    line.details,
    'the client had not taken the response when the total timeout of 1500 ms passed (the upstream waited for it)',
  );
  assert.deepEqual(
    gw.logs.filter((l) => l.msg === 'target ejected'),
    [],
    "a client's slowness says nothing of the target",
  );
  // The upstream was never slow: a client that reads gets its answer from the same target.
  assert.equal((await request(gw.url, { path: '/ok' })).status, 200);
});

test("a client that drains after its response ended does not resume the next exchange on the same upstream connection: that one's client still holds it back", async (t) => {
  // Before: the first exchange, paused for its client by the read that also ended its response,
  // resumed "its" upstream connection when that client drained, by then carrying the second
  // exchange, whose client was not reading: the whole 32 MiB came in, held for a client past
  // its 1 KiB buffer.
  const first = 'HTTP/1.1 200 OK\r\ncontent-length: 65494\r\n\r\n';
  const fault = await startRawFault(async (connection) => {
    for (;;) {
      const req = await connection.nextRequest();
      // The first answer is one 64 KiB read: held past the buffer, and whole, in the same read.
      if (req.path === '/first') await connection.write(first + 'a'.repeat(65536 - first.length));
      else
        await connection.write(
          `HTTP/1.1 200 OK\r\ncontent-length: ${32 * MiB}\r\n\r\n${'b'.repeat(32 * MiB)}`,
        );
    }
  });
  t.after(() => fault.close());
  const gw = await startTestGateway(`name: edge-1
limits:
  spool: { max_total: 0 }
  send_timeout: 1s
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 1KiB }
upstreams:
  app:
    targets:
      - url: ${fault.url}
    pool: { max_connections: 1 }
`);
  t.after(() => gw.close());
  // Each client's socket in the gateway holds what is written to it, as a full one does.
  const held: net.Socket[] = [];
  gw.gateway.listeners[0].server.prependListener('connection', (socket: net.Socket) => {
    socket.cork();
    held.push(socket);
  });
  // Kept alive: its socket drains after the response, rather than closing with it.
  const body = 'a'.repeat(65536 - first.length);
  const answer = rawUntil(
    gw.port,
    'GET /first HTTP/1.1\r\nHost: a\r\n\r\n',
    (text) => text.endsWith(body),
    5000,
  );
  await waitUntil('the first answer held for its client', () => held[0]?.writableLength >= 65536, 3000);
  const second = nonReader(gw.port, 'second', '/second');
  t.after(() => second.destroy());
  await waitUntil('the second answer held for its client', () => held[1]?.writableLength >= 65536, 3000);
  while (held[0].writableCorked > 0) held[0].uncork();
  const text = await answer;
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: keep-alive\r\n/);
  assert.ok(text.endsWith(`\r\n\r\n${body}`), 'the first answer reached its client whole');
  const line = await gw.logFor('second');
  assert.equal(line.error, 'http_request_error', JSON.stringify(line));
  assert.ok(
    Number(line.bytes_out) < MiB,
    `the second exchange took ${line.bytes_out} bytes from the upstream`,
  );
  assert.equal(fault.connections, 1, 'both exchanges went on the one upstream connection');
});
