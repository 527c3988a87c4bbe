/**
 * An upstream that goes silent after its response head: the read timeout cuts the answer, and the
 * cut must never look complete to the client, whatever its framing, nor leave the upstream's
 * connection to carry another request (the walk of "Slow and silent upstreams against nginx and
 * HAProxy" in docs/hostile-peers.md; nginx and HAProxy end an HTTP/1.0 client's close-delimited
 * answer with a FIN, which such a client reads as the whole answer).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { closeAfterAll } from '../helpers/keep.ts';
import { scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway } from '../helpers/test-gateway.ts';

const keep = closeAfterAll();

/** What a raw client got until the gateway ended the connection, and how it ended it. */
function exchange(port: number, bytes: string): Promise<{ raw: string; ended: 'fin' | 'reset' | 'open' }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (ended: 'fin' | 'reset' | 'open') => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), ended });
    };
    const timer = setTimeout(() => done('open'), 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => done('fin'));
    socket.on('error', () => done('reset'));
    socket.write(bytes);
  });
}

const TIMEOUTS = '    timeouts: { response: 2s, read: 300ms }\n    retries: { attempts: 1 }\n';

test('a close-delimited answer stalled mid-body, to an HTTP/1.0 client: the connection is reset, not closed as if the answer were whole', async () => {
  const upstream = await keep(
    scriptedUpstream((socket) => socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello')),
  );
  const gw = await keep(startTestGateway(singleUpstream(upstream.url, { upstream: TIMEOUTS })));
  const got = await exchange(gw.port, 'GET /a HTTP/1.0\r\nHost: x\r\n\r\n');
  assert.match(got.raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(got.raw, /\r\ncontent-length:|\r\ntransfer-encoding:/i);
  assert.ok(got.raw.endsWith('\r\n\r\nhello'));
  assert.equal(got.ended, 'reset');
  const line = await gw.accessLine();
  assert.equal(line.status, 200);
  assert.equal(line.error, 'connection_read_timeout');
  assert.equal(line.stage, 'body_streaming');
});

test('trailers that never end: no last chunk reaches the client, and the upstream connection is not used again', async () => {
  const upstream = await keep(
    scriptedUpstream((socket, request) => {
      if (request.head.startsWith('GET /next'))
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      // The last chunk came, its trailer section did not end.
      else socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n');
    }),
  );
  const gw = await keep(startTestGateway(singleUpstream(upstream.url, { upstream: TIMEOUTS })));
  const got = await exchange(gw.port, 'GET /stalls HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(got.raw, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(got.raw, /\r\ntransfer-encoding: chunked\r\n/i);
  assert.ok(got.raw.endsWith('\r\n\r\n5\r\nhello\r\n'), JSON.stringify(got.raw));
  assert.notEqual(got.ended, 'open');
  const line = await gw.accessLine();
  assert.equal(line.error, 'connection_read_timeout');
  const next = await exchange(gw.port, 'GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(next.raw, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
  assert.equal(upstream.connections(), 2);
  assert.deepEqual(
    upstream.requests.map((r) => [r.connection, r.onConnection]),
    [
      [1, 1],
      [2, 1],
    ],
  );
});
