/**
 * An HTTP/1.0 client that asks to keep its connection (`Connection: keep-alive`) is answered
 * saying close, whatever it asked: a proxy keeps no connection to an HTTP/1.0 client persistent
 * (RFC 9112 §9.3.1). The requests it pipelined behind its first, sent before it could know, were
 * read and are never served: each still gets its one log line (DESIGN.md), status 0, saying why;
 * nothing of it reaches an upstream.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const request = (path: string, id: string) =>
  `GET ${path} HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nX-Request-Id: ${id}\r\n\r\n`;

test('an HTTP/1.0 client that asked for keep-alive: the requests it pipelined behind the first get a line each', async (t) => {
  const upstream = await scriptedUpstream((socket) =>
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  );
  t.after(() => upstream.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());

  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(request('/one', 'one') + request('/two', 'two'));
  await closed;

  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n\r\nok$/);
  assert.equal((await gw.logFor('one')).status, 200);
  const line = await gw.logFor('two');
  assert.deepEqual(
    [line.path, line.status, line.error, line.stage, line.attempts, line.client_aborted, line.details],
    [
      '/two',
      0,
      'proxy_internal_response',
      'not_sent',
      0,
      false,
      "the gateway keeps no HTTP/1.0 client's connection open (RFC 9112 §9.3.1): it closed it after answering the request pipelined before this one, and this one was never sent",
    ],
  );
  assert.deepEqual(
    upstream.requests.map((r) => r.head.split(' ')[1]),
    ['/one'],
  );
});
