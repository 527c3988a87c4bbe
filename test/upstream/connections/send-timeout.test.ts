/**
 * `timeouts.send`: the longest an upstream may take none of the request body bytes that wait for
 * it (nginx's `proxy_send_timeout`). An upstream that stops reading a streamed body (HTTP/1.1: its
 * socket paused; HTTP/2: a stream window never opened) is answered 504 `connection_write_timeout`
 * (RFC 9209 §2.3.11) at that bound, not at `timeouts.total` as an `http_response_timeout`. One that
 * reads slowly but steadily is never cut by it, nor is a client that uploads slowly (its own bound).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import { startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { rawUpload, request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const keep = closeAfterAll();

const BODY = Buffer.alloc(8 * 1024 * 1024, 98);

/** A `node:net` upstream running `onSocket` on each connection, its sockets closed with it. */
async function netUpstream(onSocket: (socket: net.Socket) => void): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  const port = await listenLoopback(server);
  keep({
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
  return `http://127.0.0.1:${port}`;
}

/** The edge: a route that streams the client's body to `url`, a send bound (500 ms), and a total far larger. */
const edgeConfig = (url: string, protocol = 'http1', send = '500ms') => `name: edge-1
routes:
  - upstream: app
    request_buffering: false
    limits: { body: 64MiB }
upstreams:
  app:
    protocol: ${protocol}
    targets: [{ url: ${url} }]
    timeouts: { send: ${send}, response: 20s, total: 30s }
    retries: { attempts: 2 }
    outlier_detection: { consecutive_failures: 1 }
`;

const STALLED =
  /^request body stalled \(send timeout of 500 ms\): the upstream took none of it for [\d.]+ ms \((\d+) bytes sent, (\d+) waiting: (.+)\)$/;

test('HTTP/1.1: an upstream that stops reading a streamed body is 504 connection_write_timeout at timeouts.send', async () => {
  // Reads the request head's first bytes, then nothing: its buffers fill, then the gateway's.
  const url = await netUpstream((socket) => socket.once('data', () => socket.pause()));
  const gw = await keep(startTestGateway(edgeConfig(url)));
  const res = await request(gw.url, {
    method: 'POST',
    path: '/up',
    headers: { 'x-request-id': 'stalled-h1' },
    body: BODY,
  });
  assert.equal(res.status, 504);
  const status = String(res.headers['proxy-status']);
  assert.match(status, /^edge-1; error=connection_write_timeout; details="(.*)"; next-hop="app"$/);
  const details = /details="([^"]*)"/.exec(status)?.[1] ?? '';
  const [, sent, waiting, why] = STALLED.exec(details) ?? [];
  assert.ok(why !== undefined, details);
  assert.equal(why, 'its connection took no more');
  assert.ok(Number(sent) > 0 && Number(waiting) > 0, details);
  const line = await gw.logFor('stalled-h1');
  assert.equal(line.status, 504);
  assert.equal(line.error, 'connection_write_timeout');
  assert.equal(line.flag, 'UWT');
  assert.equal(line.stage, 'sent');
  assert.equal(line.details, details);
  // Not in retries.on (nor could it be retried: a streamed body taken from the client cannot go again).
  assert.equal(line.retry_skipped, 'not_retryable');
  // It counts against the target, as a read timeout does: one failure in a row ejects it here.
  await waitUntil('the target ejected', () => gw.logs.some((l) => l.msg === 'target ejected'));
});

test('HTTP/2: a stream whose window the upstream never opens is 504 connection_write_timeout at timeouts.send', async () => {
  const upstream = await keep(
    startH2(
      (stream, req) => {
        if (req.method === 'GET') stream.respond({ ':status': 200 }, { endStream: true });
      },
      { initialWindowSize: 0 },
    ),
  );
  const gw = await keep(startTestGateway(edgeConfig(upstream.url, 'h2c')));
  // The window is shut once the gateway has the upstream's SETTINGS (a body before them goes on the default window).
  assert.equal((await request(gw.url, { path: '/settings' })).status, 200);
  const res = await request(gw.url, {
    method: 'POST',
    path: '/up',
    headers: { 'x-request-id': 'stalled-h2' },
    body: BODY,
  });
  assert.equal(res.status, 504);
  const status = String(res.headers['proxy-status']);
  assert.match(status, /^edge-1; error=connection_write_timeout; details="(.*)"; next-hop="app"$/);
  const details = /details="([^"]*)"/.exec(status)?.[1] ?? '';
  const [, , waiting, why] = STALLED.exec(details) ?? [];
  assert.equal(why, 'its HTTP/2 flow-control window stayed shut', details);
  assert.ok(Number(waiting) > 0, details);
  const line = await gw.logFor('stalled-h2');
  assert.equal(line.error, 'connection_write_timeout');
  assert.equal(line.stage, 'sent');
});

test('an upstream that reads slowly but steadily (256 KiB every 100 ms) is never cut by timeouts.send', async () => {
  // 12 MB: past what the kernel's buffers take (about 4 MB, as the stalled upstream above shows),
  // the body waits on the upstream for about 3 s, twice the bound, drained again and again, each
  // drain starting the clock afresh. The bound is 1.5 s here: Linux wakes a writer only once a third of its send
  // buffer is free (sk_stream_min_wspace), so with a 4 MB buffer a drain comes every ~0.5 s at this
  // pace, as nginx's proxy_send_timeout, timed between two writes, meets it too.
  const url = await netUpstream((socket) => {
    socket.pause();
    const size = 12 * 1024 * 1024;
    let got = 0;
    let head = -1;
    const timer = setInterval(() => {
      const piece = socket.read(256 * 1024) ?? socket.read();
      if (piece === null) return;
      got += piece.length;
      if (head < 0) head = piece.indexOf('\r\n\r\n') + 4;
      if (got - head >= size) {
        clearInterval(timer);
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      }
    }, 100);
    socket.on('close', () => clearInterval(timer));
  });
  const gw = await keep(startTestGateway(edgeConfig(url, 'http1', '1500ms')));
  const res = await request(gw.url, {
    method: 'POST',
    path: '/up',
    headers: { 'x-request-id': 'steady' },
    body: Buffer.alloc(12 * 1024 * 1024, 98),
    timeoutMs: 20_000,
  });
  assert.equal(res.status, 200);
  assert.equal(String(res.body), 'ok');
  const line = await gw.logFor('steady');
  assert.equal(line.error, undefined);
});

test('a client that uploads slowly (pauses longer than timeouts.send) to an upstream that reads everything: 200', async () => {
  const url = await netUpstream((socket) => {
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (piece: string) => {
      got += piece;
      if (got.endsWith('0\r\n\r\n') || got.endsWith('xxx'.repeat(3)))
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
  });
  const gw = await keep(startTestGateway(edgeConfig(url)));
  const head =
    'POST /up HTTP/1.1\r\nHost: a\r\nX-Request-Id: slow-client\r\nConnection: close\r\nContent-Length: 9\r\n\r\n';
  const answer = await rawUpload(gw.port, head, { drip: { piece: 'xxx', everyMs: 800, pieces: 3 } }).closed;
  assert.match(answer, /^HTTP\/1\.1 200 /);
  const line = await gw.logFor('slow-client');
  assert.equal(line.error, undefined);
});

test('HTTP/2 client, HTTP/1.1 upstream that never reads: the same 504 reaches an h2 client', async () => {
  const url = await netUpstream((socket) => socket.once('data', () => socket.pause()));
  const gw = await keep(
    startTestGateway(
      `name: edge-1
routes:
  - upstream: app
    request_buffering: false
    limits: { body: 64MiB }
upstreams:
  app:
    targets: [{ url: ${url} }]
    timeouts: { send: 500ms, total: 30s }
`,
      {},
      'http2: true',
    ),
  );
  const session = http2.connect(gw.url);
  session.on('error', () => {});
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/up', 'x-request-id': 'h2-client' });
    stream.on('error', () => {});
    stream.end(BODY);
    const [headers] = await Promise.all([
      new Promise<http2.IncomingHttpHeaders>((r) => stream.on('response', r)),
    ]);
    assert.equal(headers[':status'], 504);
    assert.match(String(headers['proxy-status']), /error=connection_write_timeout/);
  } finally {
    session.destroy();
  }
});

test('timeouts.send changed by a reload governs the next request, on a connection the pool kept from before', async () => {
  // The first request ever is answered, and its connection kept alive; every other is never read.
  let answered = false;
  const url = await netUpstream((socket) =>
    socket.once('data', () => {
      if (answered) return socket.pause();
      answered = true;
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      socket.once('data', () => socket.pause());
    }),
  );
  const yaml = (send: string) => edgeConfig(url, 'http1', send).replace('name: edge-1\n', '');
  const gw = await keep(startTestGateway(`name: edge-1\n${yaml('20s')}`));
  assert.equal((await request(gw.url, { path: '/first' })).status, 200);
  await gw.gateway.reload(
    parseConfig(`name: edge-1\nlisten:\n  - address: 127.0.0.1:0\n${yaml('500ms')}`, '<test>', {}),
  );
  const res = await request(gw.url, { method: 'POST', path: '/up', body: BODY, timeoutMs: 30_000 });
  assert.equal(res.status, 504);
  assert.match(
    String(res.headers['proxy-status']),
    /error=connection_write_timeout; details="request body stalled \(send timeout of 500 ms\)/,
  );
});

test('an upstream that answers early and never reads the rest of the body: its answer streams on, the send clock is not its bound', async () => {
  // RFC 9112 §9.5: an answer may come before the request's body is all sent. Once it has, the
  // response's own clock (timeouts.read) bounds the exchange: the body left is not waited on.
  const url = await netUpstream((socket) =>
    socket.once('data', () => {
      socket.pause();
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
      let left = 6;
      const timer = setInterval(() => {
        socket.write(--left > 0 ? '1\r\nx\r\n' : '0\r\n\r\n');
        if (left === 0) {
          clearInterval(timer);
          socket.destroy();
        }
      }, 200);
      socket.on('close', () => clearInterval(timer));
    }),
  );
  const gw = await keep(startTestGateway(edgeConfig(url)));
  await request(gw.url, {
    method: 'POST',
    path: '/up',
    headers: { 'x-request-id': 'early' },
    body: BODY,
  }).catch(() => undefined);
  const line = await gw.logFor('early');
  assert.equal(line.status, 200);
  assert.equal(line.error, undefined);
});
