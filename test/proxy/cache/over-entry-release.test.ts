/**
 * Requests waiting for another's fetch of their key (coalescing) are freed as soon as that
 * answer is known not to be stored: at its head when its Content-Length is over max_entry, and,
 * for a body without one, as soon as the bytes that came pass max_entry; not when the body ends
 * (a long download kept every other client of its URL waiting for lock_timeout). Memory stays
 * bounded: the copy is dropped as it passes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

test('a chunked answer past max_entry frees those waiting for it as its bytes pass, not at its end', async (t) => {
  // Each answer is storable, without Content-Length: 150 bytes, then the rest when the test says.
  const ends: (() => void)[] = [];
  const up = await listenOnLoopback((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
    res.write('x'.repeat(150));
    ends.push(() => res.end('the end'));
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url, '{ max_entry: 100, lock_timeout: 60s }'));
  t.after(() => gw.close());
  const first = request(gw.url, { path: '/pages/download', timeoutMs: 20_000 });
  await waitUntil('the first request reaches the upstream', () => ends.length === 1);
  const others = Promise.all(
    Array.from({ length: 3 }, () => request(gw.url, { path: '/pages/download', timeoutMs: 20_000 })),
  );
  // They reach the upstream while the first answer still streams (lock_timeout is a minute).
  await waitUntil('the others reach the upstream', () => ends.length === 4);
  for (const end of ends) end();
  for (const answer of [await first, ...(await others)]) {
    assert.equal(answer.text, `${'x'.repeat(150)}the end`);
    assert.match(String(answer.headers['cache-status']), /^edge-1; fwd=uri-miss/);
  }
  // None was stored: the next one goes upstream too.
  const next = request(gw.url, { path: '/pages/download', timeoutMs: 20_000 });
  await waitUntil('the next request reaches the upstream', () => ends.length === 5);
  ends[4]();
  assert.equal((await next).headers['cache-status'], 'edge-1; fwd=uri-miss');
});
