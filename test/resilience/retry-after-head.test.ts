/**
 * A failure once the response head went downstream (a body cut short) is never retried, and
 * the log says why as the retry rule would (docs/observability.md, `retry_skipped`):
 * `after_head` for a type `retries.on` names, `not_retryable` for one it does not; the
 * counter of skipped retries counts it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { scrape } from '../observe/metrics/scrape.ts';

let cutter: net.Server;
let gw: TestGateway;
let asked = 0;

before(async () => {
  // A head promising 1000 bytes, 10 of them, then the connection closed.
  cutter = net.createServer((socket) => {
    socket.once('data', () => {
      asked++;
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
    });
  });
  await new Promise<void>((resolve) => cutter.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(cutter.address() as net.AddressInfo).port}`;
  gw = await startTestGateway(`metrics:
  listen: 127.0.0.1:0
routes:
  - { match: { path: /listed }, upstream: listed }
  - { match: { path: /plain }, upstream: plain }
upstreams:
  listed:
    targets: [{ url: ${url} }]
    retries: { attempts: 3, on: [connection_refused, http_response_incomplete] }
  plain:
    targets: [{ url: ${url} }]
`);
});
after(() => closeAll(gw, cutter));

test('a body cut short is not retried: retry_skipped after_head where retries.on names its type, not_retryable where it does not', async () => {
  for (const [path, skip] of [
    ['/listed', 'after_head'],
    ['/plain', 'not_retryable'],
  ] as const) {
    const before = asked;
    const res = await request(gw.url, { path, headers: { 'x-request-id': `cut-${skip}` } }).catch(
      (err: Error) => err,
    );
    assert.ok(!(res instanceof Error) || /aborted|socket hang up|ECONNRESET|terminated/i.test(res.message));
    const line = await gw.logFor(`cut-${skip}`);
    assert.deepEqual(
      [line.status, line.error, line.stage, line.attempts, line.retry_skipped],
      [200, 'http_response_incomplete', 'body_streaming', 1, skip],
    );
    assert.equal(asked - before, 1, 'not retried');
  }
  const { text } = await scrape(gw.gateway.metricsPort() as number);
  assert.match(text, /^candor_retries_skipped_total\{upstream="listed",why="after_head"\} 1$/m);
  assert.match(text, /^candor_retries_skipped_total\{upstream="plain",why="not_retryable"\} 1$/m);
});
