/**
 * The stage contract's streamed answer (own-answer.ts's StreamedAnswer, written by the session's
 * own-body.ts): a body of the length told goes whole; one that ends short, or whose stream fails
 * after the head, is cut, never finished as whole, and logged http_response_incomplete; a HEAD
 * reads none of it.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { StreamedAnswer } from '../../../src/core/net/own-answer.ts';
import type { RouteStage } from '../../../src/proxy/stages/stage.ts';
import { rawRequest, request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

let gw: TestGateway;
let upstream: Awaited<ReturnType<typeof listenOnLoopback>>;
let read = 0;

function bodyFor(path: string): Readable {
  if (path === '/short') return Readable.from([Buffer.from('hello')]);
  if (path === '/fails')
    return new Readable({
      read() {
        if (read++ === 0) this.push(Buffer.alloc(64 * 1024, 1));
        else this.destroy(Object.assign(new Error('disk gone'), { code: 'EIO' }));
      },
    });
  read++;
  return Readable.from([Buffer.from('hello'), Buffer.from('world')]);
}

const streamed: RouteStage = {
  name: 'streamed',
  timeoutMs: 1000,
  failOpen: false,
  start: (request) => ({
    onRequest: () => {
      const length = request.head.target === '/fails' ? 128 * 1024 : 10;
      return new StreamedAnswer(200, ['content-type', 'text/plain'], length, bodyFor(request.head.target));
    },
  }),
};

before(async () => {
  upstream = await listenOnLoopback((_req, res) => res.end('upstream'));
  gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`,
    {},
    '',
    { stages: () => [streamed] },
  );
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

test('a streamed answer of the length told goes whole', async () => {
  const res = await request(gw.url, { path: '/whole' });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'helloworld');
  assert.equal(res.headers['content-length'], '10');
  assert.equal(res.aborted, false);
});

test('a streamed answer that ends short of its length is cut, and logged http_response_incomplete', async () => {
  const res = await rawRequest(gw.port, 'GET /short HTTP/1.1\r\nHost: x\r\nX-Request-Id: short-1\r\n\r\n');
  assert.equal(res.status, 200);
  assert.ok(res.closed, 'the connection was cut');
  assert.ok(!res.raw.endsWith('hello'), 'the last bytes are held back until the length is met');
  const line = await gw.logFor('short-1');
  assert.equal(line.error, 'http_response_incomplete');
});

test('a streamed answer whose stream fails after the head is cut, and logged http_response_incomplete', async () => {
  const res = await rawRequest(gw.port, 'GET /fails HTTP/1.1\r\nHost: x\r\nX-Request-Id: fails-1\r\n\r\n');
  assert.equal(res.status, 200);
  assert.ok(res.closed, 'the connection was cut');
  const line = await gw.logFor('fails-1');
  assert.equal(line.error, 'http_response_incomplete');
  assert.match(String(line.details), /EIO/);
});

test('a HEAD gets the head with its length, and no body is read', async () => {
  const before = read;
  const res = await rawRequest(gw.port, 'HEAD /whole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(res.status, 200);
  assert.match(res.raw, /content-length: 10\r\n/i);
  assert.ok(res.raw.endsWith('\r\n\r\n'));
  assert.equal(read, before + 1, 'the stream was made but never read');
});
