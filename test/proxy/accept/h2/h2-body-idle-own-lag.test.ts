/**
 * `limits.body_idle_timeout` over HTTP/2 against the gateway's own lag: the rest of a request's
 * body, sent well within the timeout, waits unread in the socket while the worker's loop is held
 * (a plugin that computes, a long collection, a CPU saturated by load). Timers run before I/O, so
 * the body's wait passed first: a 408 blaming the client for the gateway's lag. The loop is held
 * for real (Atomics.wait on this process, the gateway's); no timing is asserted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTestGateway } from '../../../helpers/test-gateway.ts';
import { FLAG, FRAME, frame, headerBlock, headers, RawH2Client, requestFields } from './h2-frames.ts';

/** An upstream that says when it has `first` bytes of a body, and answers 200 once it has `length`. */
async function bodyUpstream(first: number, length: number) {
  const sockets = new Set<net.Socket>();
  let sawFirst: () => void = () => {};
  const firstSeen = new Promise<void>((resolve) => (sawFirst = resolve));
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let seen = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      const body = seen.length - end - 4;
      if (body >= first) sawFirst();
      if (body >= length) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    firstSeen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

test("h2c: a body's rest sent in time, unread while the loop is held past body_idle_timeout: 200, not 408", async () => {
  const app = await bodyUpstream(5, 10);
  // The body streams (no request buffering, no retry to replay it for): the upstream sees its
  // first half as soon as the gateway has read it.
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    request_buffering: false
upstreams:
  app:
    targets:
      - url: ${app.url}
    retries: { attempts: 1 }
limits: { header_timeout: 5s, body_idle_timeout: 300ms }
`,
    {},
    'http2: true',
  );
  const client = await RawH2Client.connect(gw.port);
  try {
    const fields = requestFields('/up', 'POST', [
      ['content-length', '10'],
      ['x-request-id', 'h2-held-body'],
    ]);
    client.send(
      Buffer.concat([
        headers(1, headerBlock(fields), { endStream: false }),
        frame(FRAME.DATA, 0, 1, Buffer.from('01234')),
      ]),
    );
    // The first half is through the gateway (its body wait restarted at it); the rest goes at
    // once, then the loop is held 800 ms: the body wait (300 ms) is due before the gateway reads it.
    await app.firstSeen;
    client.send(frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('56789')));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
    // Was: 408, request body stalled for 300 ms.
    const line = await gw.logFor('h2-held-body');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  } finally {
    client.close();
    await gw.close();
    await app.close();
  }
});
