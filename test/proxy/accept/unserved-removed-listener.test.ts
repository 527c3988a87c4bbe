/**
 * A reload that removes a listener closes each busy connection on it after its answer, the
 * gateway going on: requests its client pipelined behind that answer are never sent, and each
 * gets its one log line (DESIGN.md), status 0, saying the listener was removed (not that the
 * gateway was shutting down: it was not).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const request = (path: string, id: string) =>
  `GET ${path} HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\n\r\n`;

test('a reload removing a listener: requests pipelined behind the answer its connection closes after get a line each', async (t) => {
  let answer: (() => void) | undefined;
  const upstream = await scriptedUpstream((socket) => {
    answer = () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow');
  });
  t.after(() => upstream.close());
  const rest = `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${upstream.url}\ndrain: { timeout: 10s }\n`;
  const gw = await startTestGateway(rest);
  t.after(() => gw.close());
  // A port free for the listener that replaces the first: not one a listen(0) picked and let go,
  // which another test file's server may be given meanwhile.
  const spare = await freePort();

  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(request('/a', 'a') + request('/b', 'b'));
  await waitUntil('the first request reached the upstream', () => answer !== undefined);
  await gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:${spare}\n${rest}`, '<test>', {}));
  (answer as () => void)();
  await closed;

  assert.match(received, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n\r\nslow$/);
  assert.equal((await gw.logFor('a')).status, 200);
  const line = await gw.logFor('b');
  assert.deepEqual(
    [line.path, line.status, line.error, line.stage, line.attempts, line.details],
    [
      '/b',
      0,
      'proxy_internal_response',
      'not_sent',
      0,
      'a reload removed the listener: the gateway closed the connection after answering the request pipelined before this one, and this one was never sent',
    ],
  );
  assert.deepEqual(
    upstream.requests.map((r) => r.head.split(' ')[1]),
    ['/a'],
  );
});
