/**
 * `Cache-Control: only-if-cached` (RFC 9111 §5.2.1.7): the client wants a stored answer or
 * nothing. On a route with a cache it gets the stored answer when one may be given, else a 504
 * that the gateway makes itself without contacting the upstream: `Proxy-Status` says so with
 * RFC 9209's `proxy_internal_response` (the response was generated locally, without attempting
 * the next hop), the log with the taxonomy's `only_if_cached`. Before, the request went upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

async function setUp(
  cacheControl: string,
  answer = {
    fields: ['Cache-Control', cacheControl, 'ETag', '"v1"', 'Last-Modified', 'Mon, 01 Jan 2024 00:00:00 GMT'],
    body: 'stored page',
  },
) {
  const origin = await startMoodyOrigin({ status: 200, ...answer });
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`);
  return { origin, gw };
}

const ONLY = { 'cache-control': 'only-if-cached', 'x-request-id': 'only' };

test('only-if-cached with a fresh stored answer: the stored answer, the upstream not asked again', async () => {
  const { origin, gw } = await setUp('max-age=60');
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    const res = await request(gw.url, { path: '/pages/home', headers: ONLY });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'stored page');
    assert.match(String(res.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(origin.heads.length, 1);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

for (const [what, stored] of [
  ['nothing stored', undefined],
  ['only a stale stored answer (it would need the upstream)', 'max-age=0'],
] as const) {
  test(`only-if-cached with ${what}: the gateway's own 504, the upstream not contacted`, async () => {
    const { origin, gw } = await setUp(stored ?? 'max-age=60');
    try {
      if (stored !== undefined) assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
      const asked = origin.heads.length;
      const res = await request(gw.url, { path: '/pages/home', headers: ONLY });
      assert.equal(res.status, 504);
      assert.match(
        String(res.headers['proxy-status']),
        /^edge-1; error=proxy_internal_response; details="the client asked for a stored answer only \(Cache-Control: only-if-cached\), and none could be given"/,
      );
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['retry-after'], undefined);
      assert.equal(res.headers['cache-status'], undefined, "the 504 is the gateway's own (RFC 9211 §2)");
      assert.equal(origin.heads.length, asked, 'the upstream was not contacted');
      // The error body says what the client can do: nothing is broken.
      assert.match(
        res.text,
        /Nothing is stored for this request yet: ask without only-if-cached to reach the upstream\./,
      );
      const line = await gw.logFor('only');
      assert.equal(line.status, 504);
      assert.equal(line.error, 'only_if_cached');
      assert.equal(line.shape, 'gateway');
      assert.equal(line.cache, 'only-if-cached');
      assert.equal(line.attempts, 0);
    } finally {
      await gw.close();
      await origin.stop();
    }
  });
}

test('only-if-cached while a fetch of the same key is under way: the 504 at once, not a wait for that fetch', async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'page',
  });
  origin.mood = 'hang';
  // A lock as long as the test: a request that waited for the fetch would not be answered in it.
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: { lock_timeout: 60s }
upstreams:
  app:
    timeouts: { response: 60s }
    targets:
      - url: ${origin.url}
`);
  try {
    let leadOver = false;
    const over = () => {
      leadOver = true;
    };
    request(gw.url, { path: '/pages/home', timeoutMs: 60_000 }).then(over, over);
    await waitUntil('the lead fetch reached the origin', () => origin.heads.length === 1);
    // RFC 9111 §5.2.1.7: a stored answer or 504, never a wait on the origin.
    const res = await request(gw.url, { path: '/pages/home', headers: ONLY, timeoutMs: 20_000 });
    assert.equal(res.status, 504);
    assert.match(String(res.headers['proxy-status']), /^edge-1; error=proxy_internal_response; /);
    assert.equal(res.headers['cache-status'], undefined, "the 504 is the gateway's own (RFC 9211 §2)");
    assert.equal(leadOver, false, 'answered while the fetch was still under way');
    assert.equal(origin.heads.length, 1, 'the upstream was not contacted again');
    const line = await gw.logFor('only');
    assert.equal(line.error, 'only_if_cached');
    assert.equal(line.attempts, 0);
  } finally {
    // The origin first: the hung fetch is cut (a 502), so the gateway closes at once.
    await origin.stop();
    await gw.close();
  }
});

/**
 * RFC 9111 §5.2.1.7: with only-if-cached the cache answers "with either a stored response
 * consistent with the other constraints of the request" or a 504. A fresh stored 200 meets the
 * client's Range and preconditions itself as on a stale answer standing in for a failure (RFC
 * 9110 §13.2.2, §14.2): a 206, a 304, a 412. Before, a Range, If-Match or If-Unmodified-Since
 * (which go upstream without the directive) got the 504 while the answer was stored.
 */
for (const [what, fields, status, body, extra] of [
  ['Range: bytes=0-5', { range: 'bytes=0-5' }, 206, 'stored', { 'content-range': 'bytes 0-5/11' }],
  [
    'Range: bytes=20-30, 40- (none satisfiable)',
    { range: 'bytes=20-30, 40-' },
    416,
    '',
    { 'content-range': 'bytes */11' },
  ],
  ['If-None-Match of the stored tag', { 'if-none-match': '"v1"' }, 304, '', { etag: '"v1"' }],
  ['If-Match of another tag', { 'if-match': '"v0"' }, 412, '', { 'content-length': '0' }],
  ['If-Match of the stored tag', { 'if-match': '"v1"' }, 200, 'stored page', {}],
  ['a failed If-Unmodified-Since', { 'if-unmodified-since': 'Sat, 01 Jan 2000 00:00:00 GMT' }, 412, '', {}],
] as const) {
  test(`only-if-cached with ${what} and a fresh stored answer: ${status} from the store, the upstream not asked`, async () => {
    const { origin, gw } = await setUp('max-age=60');
    try {
      assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
      const res = await request(gw.url, { path: '/pages/home', headers: { ...ONLY, ...fields } });
      assert.equal(res.status, status);
      assert.equal(res.text, body);
      for (const [name, value] of Object.entries(extra)) assert.equal(res.headers[name], value, name);
      assert.match(String(res.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
      assert.equal(origin.heads.length, 1, 'the upstream was not contacted again');
    } finally {
      await gw.close();
      await origin.stop();
    }
  });
}

test('only-if-cached with a Range and only a stale stored answer: still the 504, the upstream not contacted', async () => {
  const { origin, gw } = await setUp('max-age=0');
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    const res = await request(gw.url, { path: '/pages/home', headers: { ...ONLY, range: 'bytes=0-5' } });
    assert.equal(res.status, 504);
    assert.equal(res.headers['cache-status'], undefined, "the 504 is the gateway's own (RFC 9211 §2)");
    assert.equal(origin.heads.length, 1);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test('only-if-cached with a suffix Range on a stored empty 200: the whole 200 (RFC 9110 §14.1.1: a suffix of non-zero length is satisfiable), never a 416', async () => {
  const { origin, gw } = await setUp('max-age=60', {
    fields: ['Cache-Control', 'max-age=60', 'ETag', '"e"'],
    body: '',
  });
  try {
    assert.equal((await request(gw.url, { path: '/pages/empty' })).status, 200);
    const suffix = await request(gw.url, { path: '/pages/empty', headers: { ...ONLY, range: 'bytes=-5' } });
    assert.equal(suffix.status, 200);
    assert.equal(suffix.headers['content-length'], '0');
    assert.equal(suffix.headers['content-range'], undefined);
    assert.match(String(suffix.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    // bytes=0- asks for a first byte an empty body has not: unsatisfiable, as for a static file.
    const first = await request(gw.url, { path: '/pages/empty', headers: { ...ONLY, range: 'bytes=0-' } });
    assert.equal(first.status, 416);
    assert.equal(first.headers['content-range'], 'bytes */0');
    assert.equal(origin.heads.length, 1, 'the upstream was not contacted again');
  } finally {
    await gw.close();
    await origin.stop();
  }
});
