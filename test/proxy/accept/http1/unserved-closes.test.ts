/**
 * The closes the gateway chooses after an answer, and what it tells of the requests pipelined
 * behind it, read whole and never served: an HTTP/1.0 client's connection, never kept for a
 * second request, tells them (`http10`), as a drain does (`drain`); behind an answer whose
 * writer closes because it doubts the stream (a 400: what follows may be its body), nothing is
 * told as a request.
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

/**
 * A server whose first answer is given with `close` passed by its writer or not; what it handed
 * over and what it told as unserved once `requests` went in one write and the connection closed.
 */
async function serve(
  t: { after(fn: () => void): void },
  requests: string,
  { closeAnswer, drain }: { closeAnswer: boolean; drain: boolean },
) {
  const handed: string[] = [];
  const unserved: [string, UnservedWhy][] = [];
  const server = createHttp1Server(() => SETTINGS, {
    request(exchange) {
      handed.push(exchange.head.target);
      (exchange.body ?? Readable.from([])).resume();
      if (drain) server.closeAfterAnswers();
      exchange.answer.sendHead(closeAnswer ? 400 : 200, 'X', ['content-length', '2'], closeAnswer);
      exchange.answer.write(Buffer.from('ok'));
      exchange.answer.end();
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
  c.write(requests);
  await c.untilClosed(10_000);
  // (Told as the server's side of the connection closes, which may follow the client's.)
  for (let i = 0; i < 25; i++) await new Promise((r) => setTimeout(r, 20));
  return { handed, unserved, received: c.received };
}

const http10 = (path: string) => `GET ${path} HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`;
const http11 = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

test('an HTTP/1.0 client that asked for keep-alive: its connection closes after one answer, and those pipelined behind are told (http10)', async (t) => {
  const { handed, unserved, received } = await serve(t, http10('/1') + http10('/2') + http10('/3'), {
    closeAnswer: false,
    drain: false,
  });
  assert.deepEqual(handed, ['/1']);
  assert.match(received, /^HTTP\/1\.1 200 X\r\n[\s\S]*\r\nconnection: close\r\n\r\nok$/);
  assert.deepEqual(unserved, [
    ['/2', 'http10'],
    ['/3', 'http10'],
  ]);
});

test('an HTTP/1.0 client whose answer its writer closed (a 400): nothing behind it is told as a request', async (t) => {
  const { handed, unserved } = await serve(t, http10('/1') + http10('/2'), {
    closeAnswer: true,
    drain: false,
  });
  assert.deepEqual(handed, ['/1']);
  assert.deepEqual(unserved, []);
});

test('a drain behind an answer its writer closed (a 400): nothing behind it is told as a request', async (t) => {
  const { handed, unserved } = await serve(t, http11('/1') + http11('/2'), {
    closeAnswer: true,
    drain: true,
  });
  assert.deepEqual(handed, ['/1']);
  assert.deepEqual(unserved, []);
});

test('a drain behind an answer kept alive: those pipelined behind it are told (drain)', async (t) => {
  const { handed, unserved } = await serve(t, http11('/1') + http11('/2'), {
    closeAnswer: false,
    drain: true,
  });
  assert.deepEqual(handed, ['/1']);
  assert.deepEqual(unserved, [['/2', 'drain']]);
});
