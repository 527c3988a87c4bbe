/**
 * Request coalescing across the workers of a real `candor serve --workers 2` (their shared
 * folder, fill-lock.ts): concurrent misses of one key make one upstream request whichever
 * worker each reaches, and a stale-while-revalidate window starts one refresh. Each worker
 * coalesced its own requests alone: two workers, two fetches.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { request } from '../helpers/http-client.ts';
import { waitUntil } from '../helpers/wait.ts';

/** An origin that answers each GET after `delayMs`, counting them; `fields` by the count. */
async function slowOrigin(delayMs: number, fields: (n: number) => Record<string, string>) {
  const seen = { gets: 0 };
  const origin = http.createServer((req, res) => {
    const n = ++seen.gets;
    req.resume();
    setTimeout(
      () => res.writeHead(200, { 'content-type': 'text/plain', ...fields(n) }).end(`v${n}`),
      delayMs,
    );
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  return { origin, seen, url: `http://127.0.0.1:${(origin.address() as AddressInfo).port}` };
}

/** `candor serve --workers 2` with one cached route to the origin; `upstream`: more of the upstream's fields. */
function serveTwoWorkers(originUrl: string, upstream = '') {
  return serveCachedPages(originUrl, { upstream });
}

test('concurrent misses of one key in both workers make one upstream request; each gets its answer', async (t) => {
  const { origin, seen, url } = await slowOrigin(1000, () => ({ 'cache-control': 'max-age=600' }));
  t.after(() => origin.close());
  const serve = await serveTwoWorkers(url);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  // Twenty clients at once, each on a connection of its own: the workers take them in turn.
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => request(base, { path: '/pages/doc', headers: { host: 'pages.test' } })),
  );
  assert.deepEqual(
    answers.map((a) => [a.status, a.text]),
    answers.map(() => [200, 'v1']),
  );
  assert.equal(seen.gets, 1, 'upstream requests for twenty concurrent misses');
  const statuses = answers.map((a) => String(a.headers['cache-status']));
  assert.equal(statuses.filter((s) => s === 'edge-1; fwd=uri-miss').length, 1, statuses.join('\n'));
  // The others waited for it (collapsed), or, on a loaded machine, came once it was stored (a hit).
  assert.equal(
    statuses.filter((s) => /^edge-1; (hit; ttl=\d+|fwd=uri-miss; ttl=\d+; collapsed)$/.test(s)).length,
    19,
    statuses.join('\n'),
  );
  assert.ok(
    statuses.some((s) => s.endsWith('; collapsed')),
    statuses.join('\n'),
  );
});

test('a stale answer both workers give within stale-while-revalidate is refreshed once; then both give the new one', async (t) => {
  // The first answer stale after a second; the refresh's fresh for the rest of the test.
  const { origin, seen, url } = await slowOrigin(400, (n) => ({
    'cache-control': n === 1 ? 'max-age=1, stale-while-revalidate=600' : 'max-age=600',
  }));
  t.after(() => origin.close());
  const serve = await serveTwoWorkers(url);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  const page = { path: '/pages/doc', headers: { host: 'pages.test' } };
  assert.equal((await request(base, page)).text, 'v1');
  // Past its second of freshness (Age counts whole seconds): stale, within its window. What each
  // ask was answered with is kept for the failure's message (it flaked once, not understood).
  const asked: string[] = [];
  await waitUntil(
    'stale',
    async () => {
      const answer = await request(base, page);
      asked.push(`${answer.text} age=${answer.headers.age} ${answer.headers['cache-status']}`);
      return /fwd=stale/.test(String(answer.headers['cache-status']));
    },
    5000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; answers, in order:\n${asked.join('\n')}\nupstream GETs: ${seen.gets}`);
  });
  // While the one refresh is under way (the origin takes 400 ms), twenty more, in both workers.
  const answers = await Promise.all(Array.from({ length: 20 }, () => request(base, page)));
  assert.deepEqual(
    answers.map((a) => a.status),
    answers.map(() => 200),
  );
  await waitUntil('refreshed in both workers', async () => {
    const again = await Promise.all(Array.from({ length: 6 }, () => request(base, page)));
    return again.every((a) => a.text === 'v2');
  });
  assert.equal(seen.gets, 2, 'upstream requests: the first fetch and one refresh');
});

test("one fetch that fails is every worker's failure: concurrent misses of a key whose upstream never answers make one upstream request", async (t) => {
  const seen = { gets: 0 };
  const origin = http.createServer((req) => {
    seen.gets++;
    req.resume();
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    origin.closeAllConnections();
    origin.close();
  });
  const serve = await serveTwoWorkers(
    `http://127.0.0.1:${(origin.address() as AddressInfo).port}`,
    '    timeouts: { response: 1s }\n    retries: { attempts: 1 }\n',
  );
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  const answers = await Promise.all(
    Array.from({ length: 12 }, () => request(base, { path: '/pages/doc', headers: { host: 'pages.test' } })),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    answers.map(() => 504),
  );
  assert.equal(seen.gets, 1, 'upstream requests for twelve concurrent misses');
  // The 504s are the gateway's own: no Cache-Status (RFC 9211 §2); the log says what the cache did.
  assert.equal(answers.filter((a) => a.headers['cache-status'] !== undefined).length, 0);
  await serve.waitForLines('request', 12);
  const caches = serve.lines.filter((l) => l.msg === 'request').map((l) => String(l.cache));
  assert.equal(caches.filter((c) => c === 'fwd=uri-miss; collapsed').length, 11, caches.join('\n'));
});

test('concurrent Range misses of one key in both workers make one whole fetch upstream, without Range; each client gets its part', async (t) => {
  const ranges: (string | undefined)[] = [];
  const origin = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    req.resume();
    setTimeout(
      () => res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '10' }).end('0123456789'),
      1000,
    );
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => origin.close());
  const serve = await serveTwoWorkers(`http://127.0.0.1:${(origin.address() as AddressInfo).port}`);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  const parts = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      request(base, { path: '/pages/clip', headers: { host: 'pages.test', range: `bytes=${i}-${i}` } }),
    ),
  );
  parts.forEach((part, i) => {
    assert.equal(part.status, 206, `part ${i}`);
    assert.equal(part.text, String(i));
    assert.equal(part.headers['content-range'], `bytes ${i}-${i}/10`);
  });
  assert.deepEqual(ranges, [undefined], 'one whole fetch for ten Range misses in two workers');
});
