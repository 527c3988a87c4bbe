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
