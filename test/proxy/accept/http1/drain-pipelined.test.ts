/**
 * A drain while a connection waits between pipelined requests, the next one already read: that
 * one is answered (saying close), and those read behind it are told as unserved, for the drain,
 * each once: every request the server read is either handed over or told.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { UnservedWhy } from '../../../../src/proxy/accept/http1/http1-connection-setup.ts';
import { createHttp1Server } from '../../../../src/proxy/accept/http1/http1-server.ts';
import { RawClient } from '../downstream-fixture.ts';

const SETTINGS = {
  headerSize: 4096,
  uriLength: 1024,
  headerTimeout: 300,
  bodyIdleTimeout: 300,
  keepAliveTimeout: 400,
};

test('a drain between pipelined requests: the next is answered saying close, the one behind it told unserved', async (t) => {
  // The first answer is large and the client does not read yet: the connection is idle between
  // requests, the next two already read, until the client takes the first.
  const big = Buffer.alloc(8 * 1024 * 1024, 'x');
  const handed: string[] = [];
  const unserved: [string, UnservedWhy][] = [];
  let ended = false;
  const server = createHttp1Server(() => SETTINGS, {
    request(exchange) {
      handed.push(exchange.head.target);
      (exchange.body ?? Readable.from([])).resume();
      const body = handed.length === 1 ? big : Buffer.from('second');
      exchange.answer.sendHead(200, 'OK', ['content-length', String(body.length)]);
      exchange.answer.write(body);
      exchange.answer.end();
      ended = true;
    },
    refused: () => assert.fail('nothing to refuse'),
    unserved(_connection, request, why) {
      unserved.push([request.head.target, why]);
    },
  });
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.destroyAll('deadline');
    server.server.close();
  });
  const c = await RawClient.connect((server.server.address() as AddressInfo).port);
  t.after(() => c.destroy());
  c.socket.pause();
  c.write(
    'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  while (!ended) await new Promise((r) => setImmediate(r));
  server.closeWhenIdle();
  c.socket.resume();
  await c.untilClosed(10_000);
  assert.deepEqual(handed, ['/1', '/2']);
  const second = c.received.slice(c.received.lastIndexOf('HTTP/1.1 '));
  assert.match(second, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n\r\nsecond$/);
  // (Told as the server's side of the connection closes, which may follow the client's.)
  for (let i = 0; i < 100 && unserved.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(unserved, [['/3', 'drain']]);
});
