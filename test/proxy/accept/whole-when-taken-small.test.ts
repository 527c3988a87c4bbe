/**
 * An HTTP/1.1 answer is logged whole only once the client's socket took its last byte, also when
 * that last write was small: a write under the socket's high-water mark (16 KiB) returns true
 * whether or not the kernel took it, so a client whose buffers are full (it reads nothing) had
 * its answer logged whole while its rest still waited in the gateway, and was then cut.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** Under the 16 KiB high-water mark, head and all. */
const BODY = 12 * 1024;
/**
 * Pipelined answers that together pass what loopback's kernel buffers hold (a few MiB), in
 * requests short enough that the gateway reads them all (left unread, its close would be a reset).
 */
const REQUESTS = 2000;
let upstream: http.Server;
let gw: TestGateway;

before(async () => {
  const body = Buffer.alloc(BODY, 'x');
  upstream = http.createServer((_req, res) => {
    res.setHeader('content-length', BODY);
    res.end(body);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as net.AddressInfo).port;
  gw = await startTestGateway(`limits: { send_timeout: 500ms }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
`);
});

after(() => closeAll(gw, upstream));

/** The answers in `raw` that came whole (each head's Content-Length of body after it). */
function wholeAnswers(raw: Buffer): number {
  let at = 0;
  let whole = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) return whole;
    const head = raw.subarray(at, end).toString('latin1');
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (end + 4 + length > raw.length) return whole;
    whole++;
    at = end + 4 + length;
  }
}

test('pipelined small answers to a client that reads none: no line says whole that the client did not get whole', async () => {
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.pause();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  let requests = '';
  for (let i = 0; i < REQUESTS; i++) requests += `GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`;
  socket.write(requests);
  // The gateway cuts the connection at send_timeout once its answers wait for the client.
  await waitUntil(
    'the cut',
    () => gw.logs.some((l) => l.msg === 'request' && l.error === 'http_request_error'),
    15_000,
  );
  socket.resume();
  await closed;
  const lines = gw.logs.filter((l) => l.msg === 'request');
  const loggedWhole = lines.filter((l) => l.error === undefined).length;
  const got = wholeAnswers(Buffer.concat(chunks));
  assert.ok(got < REQUESTS, `the client's buffers filled (it got ${got} whole)`);
  assert.equal(loggedWhole, got, 'answers logged whole: exactly those the client got whole');
  // The requests read behind the cut one, never served, have a line each saying so (status 0).
  const unserved = lines.filter((l) => l.status === 0);
  assert.ok(
    unserved.every(
      (l) => l.error === 'proxy_internal_response' && l.stage === 'not_sent' && l.attempts === 0,
    ),
    'the requests behind the cut one are logged never sent',
  );
  const cut = lines.filter((l) => l.error !== undefined && l.status !== 0);
  assert.equal(cut.length, 1, 'one answer cut');
  assert.equal(cut[0].status, 200);
  assert.equal(cut[0].details, 'client took no response bytes for 500 ms (limits.send_timeout)');
});
