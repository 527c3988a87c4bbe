/**
 * A response that closes its connection (`Connection: close`, an HTTP/1.0 client, a drain) is
 * still leaving for a client that reads slowly when the gateway has written its last byte: the
 * lingering close (our FIN, LINGER_MS to read and drop what the client sends) begins once that
 * answer has left, not when it was written. Counted from the write, a client that paused its
 * reading for LINGER_MS (well within `limits.send_timeout`) lost the rest of a response the
 * gateway had queued for it, and the close that cut it was a FIN, after a log line that said
 * the response had gone whole.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { LINGER_MS } from '../../../src/core/net/linger.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** More than the kernel's buffers hold on loopback, so most of it waits in the gateway. */
const SIZE = 24 * 1024 * 1024;
let upstream: http.Server;
let gw: TestGateway;

before(async () => {
  const body = Buffer.alloc(SIZE, 'x');
  upstream = http.createServer((_req, res) => {
    res.setHeader('content-length', SIZE);
    res.end(body);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as net.AddressInfo).port;
  gw = await startTestGateway(`name: edge-1
routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 32MiB }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
`);
});

after(() => closeAll(gw, upstream));

/** Sends `request`, reads nothing for longer than LINGER_MS, then reads to the end: every byte that came, and how it ended. */
function pausedRead(request: string): Promise<{ bytes: Buffer; ended: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let ended = 'close';
    socket.pause();
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      ended = 'FIN';
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      ended = err.code ?? err.message;
    });
    socket.on('close', () => resolve({ bytes: Buffer.concat(chunks), ended }));
    socket.write(request);
    setTimeout(() => socket.resume(), LINGER_MS + 1000);
  });
}

function bodyOf(bytes: Buffer): { head: string; body: Buffer } {
  const at = bytes.indexOf('\r\n\r\n');
  assert.ok(at > 0, 'a response head came');
  return { head: bytes.subarray(0, at).toString('latin1'), body: bytes.subarray(at + 4) };
}

test('Connection: close: a client that pauses its reading past LINGER_MS still gets the whole body', async () => {
  const { bytes, ended } = await pausedRead('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  const { head, body } = bodyOf(bytes);
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\nconnection: close/i);
  assert.equal(body.length, SIZE, `${body.length} of ${SIZE} bytes, then ${ended}`);
  assert.equal(ended, 'FIN');
});

test('HTTP/1.0 (never kept alive): a client that pauses its reading past LINGER_MS still gets the whole body', async () => {
  const { bytes, ended } = await pausedRead('GET / HTTP/1.0\r\nHost: a\r\n\r\n');
  const { head, body } = bodyOf(bytes);
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.match(head, /\r\nconnection: close/i);
  assert.equal(body.length, SIZE, `${body.length} of ${SIZE} bytes, then ${ended}`);
  assert.equal(ended, 'FIN');
});
