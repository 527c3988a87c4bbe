/**
 * Every request the gateway read gets its log line (DESIGN.md: one line per request): one a
 * client pipelined behind a request whose connection was then cut is never served, and its line
 * says so and why; a request whose bytes had not all come is no request, and has none.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const FIRST = 'GET /first HTTP/1.1\r\nHost: a\r\nX-Request-Id: one\r\n\r\n';
const SECOND = 'GET /second HTTP/1.1\r\nHost: a\r\nX-Request-Id: two\r\n\r\n';
/** A third request's head, not whole: never a request. */
const PARTIAL = 'GET /third HTTP/1.1\r\nHost: a\r\n';

/** Sends `bytes` on a connection of its own; resolves once the gateway closed it (at most 3 s). */
function pipelined(port: number, bytes: string): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  // Read (and dropped): a socket not read never hears the gateway's FIN.
  socket.resume();
  socket.write(bytes);
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, 3000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test('a request pipelined behind an answer the upstream cut is logged: status 0, never sent, and why', async (t) => {
  const upstream = await scriptedUpstream((socket, request) => {
    if (!request.head.startsWith('GET /first'))
      return void socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    // The head and part of the body, then a reset: the answer cannot be whole.
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf', () => socket.resetAndDestroy());
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  await pipelined(gw.port, FIRST + SECOND + PARTIAL);
  const first = await gw.logFor('one');
  assert.equal(first.error, 'http_response_incomplete');
  const second = await gw.logFor('two');
  assert.deepEqual(
    {
      status: second.status,
      error: second.error,
      stage: second.stage,
      details: second.details,
      path: second.path,
      bytes_in: second.bytes_in,
      attempts: second.attempts,
      client_aborted: second.client_aborted,
    },
    {
      status: 0,
      error: 'proxy_internal_response',
      stage: 'not_sent',
      details:
        'the answer to the request pipelined before this one was cut short, and the gateway closed the connection: this one was never sent',
      path: '/second',
      bytes_in: Buffer.byteLength(SECOND),
      attempts: 0,
      client_aborted: false,
    },
  );
  assert.deepEqual(
    upstream.requests.map((r) => r.head.split(' ')[1]),
    ['/first'],
    'nothing but the first reached the upstream',
  );
  assert.equal(gw.logs.filter((l) => l.msg === 'request').length, 2, 'the partial third head is no request');
});

test('a connection gives its unserved requests 32 lines at most, the last counting the rest', async (t) => {
  const upstream = await scriptedUpstream((socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf', () => socket.resetAndDestroy()),
  );
  t.after(() => upstream.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  // Fifty tiny requests behind the one whose answer is cut: served, each would have cost an upstream answer.
  const behind = Array.from({ length: 50 }, (_, i) => `GET /b${i} HTTP/1.1\r\nHost: a\r\n\r\n`).join('');
  await pipelined(gw.port, FIRST + behind);
  await gw.logFor('one');
  const unserved = async () => gw.logs.filter((l) => l.msg === 'request' && l.status === 0);
  for (let i = 0; i < 100 && (await unserved()).length < 32; i++) await new Promise((r) => setTimeout(r, 20));
  const lines = await unserved();
  assert.deepEqual(
    lines.map((l) => l.path),
    Array.from({ length: 32 }, (_, i) => `/b${i}`),
  );
  assert.equal(
    lines[31].details,
    'the answer to the request pipelined before this one was cut short, and the gateway closed the connection: this one was never sent; 18 more read behind it, not served, have no line of their own (32 a connection)',
  );
  assert.equal(upstream.requests.length, 1);
});

test('a request pipelined behind one its client left during is logged as the client leaving: 499', async (t) => {
  // The first is never answered: the client resets while it waits.
  const upstream = await scriptedUpstream(() => {});
  t.after(() => upstream.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(FIRST + SECOND);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  // Once the first request reached the upstream, the client leaves with a reset.
  for (let i = 0; i < 100 && upstream.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(upstream.requests.length, 1);
  socket.resetAndDestroy();
  await closed;

  const first = await gw.logFor('one');
  assert.equal(first.status, 499);
  const second = await gw.logFor('two');
  assert.deepEqual(
    [second.status, second.error, second.client_aborted, second.attempts, second.details],
    [
      499,
      'client_closed',
      true,
      0,
      'the client closed the connection while the request pipelined before this one was answered',
    ],
  );
});

test('a request pipelined behind one that said Connection: close is not served and not logged: the client was told', async (t) => {
  const upstream = await scriptedUpstream((socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  );
  t.after(() => upstream.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    // Its answer read, the client resets during the gateway's lingering close.
    if (received.endsWith('\r\n\r\nok')) socket.resetAndDestroy();
  });
  socket.write(FIRST.replace('Host: a\r\n', 'Host: a\r\nConnection: close\r\n') + SECOND);
  await closed;
  await gw.logFor('one');
  // (The line of a second request would follow the first's within the same close.)
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(
    gw.logs.filter((l) => l.msg === 'request').map((l) => l.client_req_id),
    ['one'],
  );
  assert.equal(upstream.requests.length, 1);
});

test('a request pipelined behind an upload answered before its body ended, the body then whole, is logged: never sent', async (t) => {
  // The upstream answers the upload's head at once with half its body, the rest once the
  // upload came whole: the gateway's answer began before the request's body was read, so it
  // says close, and the request the client sent behind the body is never served.
  const sockets = new Set<net.Socket>();
  const heads: string[] = [];
  const upstream = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (heads.length === 0) {
        heads.push(text.slice(0, end));
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nea');
      }
      if (text.length - end - 4 === 10) socket.write('rl');
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    upstream.close();
  });
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - upstream: app\n    request_buffering: false\nupstreams:\n  app:\n    retries: { attempts: 1 }\n    targets:\n      - url: http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}\n`,
  );
  t.after(() => gw.close());

  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  const closed = new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const headCame = new Promise<void>(
    (resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.includes('\r\n\r\n')) resolve();
      }) && closed.then(resolve),
  );
  socket.write('POST /upload HTTP/1.1\r\nHost: a\r\nX-Request-Id: one\r\nContent-Length: 10\r\n\r\naaaaa');
  await headCame;
  socket.write(`bbbbb${SECOND}`);
  await closed;

  assert.match(received, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(received, /\r\nconnection: close\r\n/i);
  assert.ok(received.endsWith('\r\n\r\nearl'), received);
  const first = await gw.logFor('one');
  assert.equal(first.status, 200);
  const second = await gw.logFor('two');
  assert.deepEqual(
    [second.status, second.error, second.stage, second.path, second.attempts],
    [0, 'proxy_internal_response', 'not_sent', '/second', 0],
  );
  assert.match(String(second.details), /before the request's body was whole/);
  assert.equal(heads.length, 1, 'nothing but the upload reached the upstream');
});
