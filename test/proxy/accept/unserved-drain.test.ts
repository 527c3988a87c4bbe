/**
 * Requests a client pipelined behind one still being served when a drain began: that one is
 * answered (saying close), and the gateway closes the connection after it, so those behind it are
 * read and never served. Each is still a request the gateway read, and gets its one log line
 * (DESIGN.md), status 0, saying the drain left it unserved; nothing of it reaches an upstream.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const request = (path: string, id: string) =>
  `GET ${path} HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\n\r\n`;

test('a drain while a request is served: those pipelined behind it get a line each, status 0, never sent', async (t) => {
  let answer: (() => void) | undefined;
  const upstream = await scriptedUpstream((socket) => {
    answer = () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbusy');
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(`${singleUpstream(upstream.url)}drain: { timeout: 10s }\n`);
  let closing: Promise<void> | undefined;
  t.after(() => closing ?? gw.close());

  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  t.after(() => socket.destroy());
  socket.write(request('/busy', 'busy') + request('/second', 'second') + request('/third', 'third'));
  await waitUntil('the first request reached the upstream', () => answer !== undefined);
  closing = gw.close();
  // The drain has begun (the listener stopped accepting): the upstream answers now.
  await waitUntil('the drain began', () => gw.logs.some((l) => /drain/i.test(l.msg)));
  (answer as () => void)();
  await closed;
  await closing;

  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n\r\nbusy$/);
  assert.equal(received.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer');
  assert.equal((await gw.logFor('busy')).status, 200);
  // (Their lines are written as the gateway's side of the connection closes.)
  const lines = () => gw.logs.filter((l) => l.msg === 'request');
  await waitUntil('three lines', () => lines().length >= 3).catch(() => {});
  assert.deepEqual(
    lines().map((l) => l.client_req_id ?? l.request_id),
    ['busy', 'second', 'third'],
    'one line per request read',
  );
  for (const [line, path] of [
    [lines()[1], '/second'],
    [lines()[2], '/third'],
  ] as const)
    assert.deepEqual(
      [line.path, line.status, line.error, line.stage, line.attempts, line.client_aborted, line.details],
      [
        path,
        0,
        'proxy_internal_response',
        'not_sent',
        0,
        false,
        'the gateway was shutting down: it closed the connection after answering the request pipelined before this one, and this one was never sent',
      ],
    );
  assert.deepEqual(
    upstream.requests.map((r) => r.head.split(' ')[1]),
    ['/busy'],
  );
});
