/**
 * An upstream that answers an upload at once, keeps its connection (no `Connection: close`), and
 * then reads no more of the body: its answer is whole, but the rest of the request is still
 * waiting in the gateway's socket. That connection cannot carry another request (it would queue
 * behind bytes the upstream never takes, and be answered 504 as if the upstream were slow): the
 * next request goes on a new connection, and the upstream never sees it after a cut body.
 * nginx and HAProxy open a new connection there too. (A body the kernel took whole, sent but never
 * read, cannot be seen from Node: the body here is larger than loopback's buffers hold.)
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** Every connection the upstream got: the bytes it read, in order. */
const connections: Buffer[][] = [];
/** Its sockets: one paused with the body unread never reads the gateway's FIN, and would hold app.close() for ever. */
const sockets: net.Socket[] = [];
let app: net.Server;
let gw: TestGateway;

before(async () => {
  app = net.createServer((socket) => {
    const read: Buffer[] = [];
    connections.push(read);
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('data', (data) => {
      read.push(data);
      const text = Buffer.concat(read).toString('latin1');
      if (text.startsWith('POST') && text.includes('\r\n\r\n') && !socket.isPaused()) {
        // The upload's answer, the connection kept, and not another byte read.
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nuploaded');
        socket.pause();
      } else if (text.startsWith('GET') && text.endsWith('\r\n\r\n'))
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfresh');
    });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const port = (app.address() as net.AddressInfo).port;
  gw = await startTestGateway(`routes:
  - match: { path: /buffered }
    upstream: app
    limits: { body: 64MiB, buffer: 32MiB }
  - match: { path: /streamed }
    upstream: app
    request_buffering: false
    limits: { body: 64MiB }
upstreams:
  app:
    targets: [ { url: "http://127.0.0.1:${port}" } ]
    timeouts: { response: 2s, total: 3s }
`);
});
after(() =>
  closeAll(
    gw,
    sockets.map((socket) => ({ close: () => socket.destroy() })),
    app,
  ),
);

/** Past what loopback's kernel buffers hold (a few MiB each way): the rest waits in the gateway's socket. */
const SIZE = 24 * 1024 * 1024;

for (const path of ['/buffered', '/streamed']) {
  test(`${path}: an early answer whose upstream then reads no more of the body leaves its connection out of the pool`, async () => {
    connections.length = 0;
    const upload = await rawRequest(
      gw.port,
      Buffer.concat([
        Buffer.from(
          `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${SIZE}\r\n\r\n`,
          'latin1',
        ),
        Buffer.alloc(SIZE, 0x61),
      ]),
      5000,
    );
    assert.equal(upload.status, 200);
    assert.ok(upload.raw.endsWith('\r\n\r\nuploaded'));

    const next = await rawRequest(
      gw.port,
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      5000,
    );
    assert.equal(next.raw.split('\r\n')[0], 'HTTP/1.1 200 OK', next.raw);
    assert.ok(next.raw.endsWith('\r\n\r\nfresh'));
    // Two connections: the upload's (its body cut, nothing after it) and the GET's alone.
    assert.equal(connections.length, 2);
    const first = Buffer.concat(connections[0]).toString('latin1');
    assert.ok(first.startsWith(`POST ${path} HTTP/1.1\r\n`));
    assert.ok(!first.includes('GET '), 'no request behind the unread body');
    assert.ok(Buffer.concat(connections[0]).length < SIZE, 'the upstream read only part of the body');
    assert.match(Buffer.concat(connections[1]).toString('latin1'), new RegExp(`^GET ${path} HTTP/1.1\\r\\n`));
  });
}
