/**
 * An app that refuses an upload at once (413, Connection: close) and closes with the body
 * unread: its kernel resets the connection for the bytes still coming, and the gateway's next
 * write of the body fails (EPIPE, ECONNRESET). The answer it sent came before the reset: the
 * client gets that 413, every time, never a gateway 502 "before the response head", and the
 * target is not judged for it (RFC 9112 §9.5).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let app: http.Server;
let gw: TestGateway;
let asked = 0;

before(async () => {
  // As most apps refuse an upload: the answer at once, the body never read, the connection closed.
  app = http.createServer((_req, res) => {
    asked++;
    res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('too big\n');
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  gw = await startTestGateway(`routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
    outlier_detection: { consecutive_failures: 2 }
`);
});
after(() => closeAll(gw, app));

/**
 * POSTs `size` bytes (a Content-Length body, or a chunked one: the gateway sends it upstream
 * chunked, each piece its size line, bytes and CRLF corked into one write), streamed as fast as
 * the gateway takes it: what came back, as text.
 */
function upload(size: number, chunked = false): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const received: Buffer[] = [];
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let left = size;
    const pump = () => {
      while (left > 0 && !socket.destroyed) {
        const piece = chunk.subarray(0, Math.min(chunk.length, left));
        left -= piece.length;
        const framed = chunked
          ? Buffer.concat([
              Buffer.from(`${piece.length.toString(16)}\r\n`),
              piece,
              Buffer.from(left > 0 ? '\r\n' : '\r\n0\r\n\r\n'),
            ])
          : piece;
        if (!socket.write(framed)) return void socket.once('drain', pump);
      }
    };
    socket.on('connect', () => {
      const length = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`;
      socket.write(
        `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n${length}\r\n\r\n`,
      );
      pump();
    });
    socket.on('data', (data) => received.push(data));
    // The gateway closes once it answered (the rest of the body unread): the client's writes may fail.
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')));
  });
}

for (const chunked of [false, true])
  test(`an app's early 413 to a streamed ${chunked ? 'chunked ' : ''}upload, its connection reset under the body: the client gets the 413, every time, and the target is not judged for it`, async () => {
    const before = asked;
    const logged = gw.logs.length;
    const statuses: string[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await upload(5_000_000, chunked)).split('\r\n')[0]);
    assert.deepEqual(statuses, Array(12).fill('HTTP/1.1 413 Payload Too Large'));
    assert.equal(asked - before, 12);
    const lines = gw.logs.slice(logged).filter((l) => l.msg === 'request');
    assert.deepEqual(
      lines.map((l) => [l.status, l.error, l.attempts]),
      Array(12).fill([413, undefined, 1]),
    );
    assert.equal(
      gw.logs.slice(logged).some((l) => l.msg === 'target ejected'),
      false,
    );
  });
