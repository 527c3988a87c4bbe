/**
 * A final answer sent before the request's body is whole (RFC 9110 §10.1.1: the server
 * "SHOULD indicate whether it intends to close the connection … or continue reading the
 * request content"). Candor does not read the rest of such a body (nothing could tell it from
 * the next request), so the connection closes after the answer, and the answer says so: a
 * client told `keep-alive` would send its next request into the close.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { hasFinalResponse, parseRaw, RawClient, settle } from './downstream-fixture.ts';

/** An upstream that refuses an upload from its head (413), reading on and never closing. */
async function startEarlyRefuser(): Promise<{ url: string; heads: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const state = { heads: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      state.heads++;
      socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get heads() {
      return state.heads;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

test('an upstream that answers a streamed upload before its end: the answer says Connection: close, and it closes', async (t) => {
  const upstream = await startEarlyRefuser();
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - upstream: app\n    request_buffering: false\nupstreams:\n  app:\n    targets:\n      - url: ${upstream.url}\n`,
  );
  t.after(() => gw.close());
  const client = await RawClient.connect(gw.port);
  t.after(() => client.destroy());
  client.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n');
  client.write(Buffer.alloc(16 * 1024, 'x'));
  await client.until(hasFinalResponse);
  const res = parseRaw(client.received);
  assert.equal(res.status, 413);
  assert.equal(res.body, 'big');
  assert.equal(res.headers.connection, 'close', 'the rest of the body is not read: the connection ends');
  assert.equal(res.headers['keep-alive'], undefined);
  await client.untilClosed();
  assert.equal(upstream.heads, 1);
});

test('Expect: 100-continue answered before any body (no route): the answer says Connection: close, and it closes', async (t) => {
  const gw = await startTestGateway(
    'name: edge-1\nroutes:\n  - match: { path: /api }\n    upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n',
  );
  t.after(() => gw.close());
  const client = await RawClient.connect(gw.port);
  t.after(() => client.destroy());
  client.write('PUT /elsewhere HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
  await client.until(hasFinalResponse);
  const res = parseRaw(client.received);
  assert.equal(res.status, 404);
  assert.deepEqual(res.interim, [], 'no 100 Continue for a body nobody will read');
  assert.equal(res.headers.connection, 'close');
  await client.untilClosed();
});

/**
 * An upstream that answers an upload from its head with a 200 whose body it sends in two parts,
 * the second when the test says: the client's FIN can come between them. It records how its
 * request's connection ended and how many bytes it read on it.
 */
async function startEarlyStreamer(): Promise<{
  url: string;
  readonly received: number;
  readonly ended: Promise<void>;
  readonly headSeen: Promise<void>;
  finish(): void;
  close(): void;
}> {
  const sockets = new Set<net.Socket>();
  let received = 0;
  let finish = (): void => {};
  let ended = (): void => {};
  let headSeen = (): void => {};
  const endedPromise = new Promise<void>((resolve) => (ended = resolve));
  const headPromise = new Promise<void>((resolve) => (headSeen = resolve));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => ended());
    socket.on('close', () => ended());
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (answered) return;
      answered = true;
      headSeen();
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst');
      finish = () => socket.write('-last');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() {
      return received;
    },
    ended: endedPromise,
    headSeen: headPromise,
    finish: () => finish(),
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

test('a client that half-closes after an early answer, as RFC 9112 §9.5 asks, still reads that answer whole; the upstream sees its body cut', async (t) => {
  const upstream = await startEarlyStreamer();
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    `name: edge-1\nroutes:\n  - upstream: app\n    request_buffering: false\nupstreams:\n  app:\n    targets:\n      - url: ${upstream.url}\n`,
  );
  t.after(() => gw.close());
  const client = await RawClient.connect(gw.port);
  t.after(() => client.destroy());
  client.write(
    'POST /upload HTTP/1.1\r\nHost: a\r\nX-Request-Id: early-fin\r\nContent-Length: 1048576\r\n\r\n',
  );
  client.write(Buffer.alloc(1024, 'x'));
  await client.until((received) => received.endsWith('first'));
  assert.match(client.received, /\r\nconnection: close\r\n/);
  // "The client SHOULD immediately cease transmitting the body and close its side of the connection."
  client.socket.end();
  // The FIN reaches the gateway before the answer's rest does.
  await settle(100);
  upstream.finish();
  await client.untilClosed();
  const res = parseRaw(client.received);
  assert.equal(res.status, 200);
  assert.equal(res.body, 'first-last', 'the answer reached the client whole');
  const line = await gw.logFor('early-fin');
  assert.equal(line.status, 200);
  assert.equal(line.error, undefined);
  assert.equal(line.client_aborted, false);
  await upstream.ended;
  assert.ok(
    upstream.received < 1048576,
    'the upstream never got a whole body: its connection closed under it',
  );
});
