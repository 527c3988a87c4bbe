/**
 * An answer to a request that carried a Cookie, which the origin gave no lifetime of its own
 * (no max-age, s-maxage, Expires, nor public): an app's page of one signed-in user, which it
 * marks for no cache because it never thought one stood in front. Stored, it was given to the
 * next user: at once when its Last-Modified made it heuristically fresh, else in place of the
 * upstream's 503 (stale_if_error's 5 minutes by default). nginx's proxy_cache stores no answer
 * without explicit freshness; Varnish passes a request with Cookie. RFC 9111 §3 lets a cache
 * decline to store; §4.2.2's heuristic is a MAY.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedPages } from '../../helpers/cached-pages.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { type MoodyOrigin, startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const LAST_WEEK = new Date(Date.now() - 7 * 86_400_000).toUTCString();

async function withGateway(
  fields: string[],
  run: (gw: TestGateway, origin: MoodyOrigin) => Promise<void>,
  cache = '{}',
): Promise<void> {
  const origin = await startMoodyOrigin({ status: 200, fields, body: "alice's account" });
  try {
    const gw = await startTestGateway(cachedPages(origin.url, cache));
    try {
      await run(gw, origin);
    } finally {
      await gw.close();
    }
  } finally {
    await origin.stop();
  }
}

const alice = { cookie: 'session=alice' };
const bob = { cookie: 'session=bob' };

test("a cookie request's answer without a lifetime is not stored: the next user's request reaches the upstream", async () => {
  await withGateway(['Last-Modified', LAST_WEEK], async (gw, origin) => {
    const first = await request(gw.url, { path: '/pages/account', headers: alice });
    assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');
    const next = await request(gw.url, { path: '/pages/account', headers: bob });
    assert.equal(next.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.equal(origin.heads.length, 2);
  });
});

test("a cookie request's answer without a lifetime never stands in for the upstream's 503 to another user", async () => {
  await withGateway([], async (gw, origin) => {
    await request(gw.url, { path: '/pages/account', headers: alice });
    origin.mood = 'status_503';
    const next = await request(gw.url, { path: '/pages/account', headers: bob });
    assert.equal(next.status, 503);
    assert.equal(next.text, 'down');
    assert.equal(next.headers['cache-status'], 'edge-1; fwd=uri-miss');
  });
});

// What the origin says of the answer's lifetime (or the route's lifetimes, as nginx's
// proxy_cache_valid) is kept, a cookie or not, as nginx keeps it.
for (const [said, fields, cache] of [
  ['max-age=60', ['Cache-Control', 'max-age=60'], '{}'],
  ['s-maxage=60', ['Cache-Control', 's-maxage=60'], '{}'],
  ['an Expires', ['Expires', new Date(Date.now() + 60_000).toUTCString()], '{}'],
  ['public (a heuristic lifetime)', ['Cache-Control', 'public', 'Last-Modified', LAST_WEEK], '{}'],
  ["the route's lifetimes", [], '{ lifetimes: { 200: 1m } }'],
] as const) {
  test(`a cookie request's answer with ${said} is stored: the next request is a hit`, async () => {
    await withGateway(
      [...fields],
      async (gw, origin) => {
        await request(gw.url, { path: '/pages/shared', headers: alice });
        const next = await request(gw.url, { path: '/pages/shared', headers: bob });
        assert.match(String(next.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
        assert.equal(origin.heads.length, 1);
      },
      cache,
    );
  });
}

test('an answer without a lifetime to a request without a cookie is stored as before (a heuristic hit)', async () => {
  await withGateway(['Last-Modified', LAST_WEEK], async (gw, origin) => {
    await request(gw.url, { path: '/pages/about' });
    const next = await request(gw.url, { path: '/pages/about', headers: bob });
    assert.match(String(next.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(origin.heads.length, 1);
  });
});

test('one that varies on Cookie is stored for that cookie alone: a hit for alice, a miss for bob', async () => {
  await withGateway(['Last-Modified', LAST_WEEK, 'Vary', 'Cookie'], async (gw, origin) => {
    await request(gw.url, { path: '/pages/account', headers: alice });
    const again = await request(gw.url, { path: '/pages/account', headers: alice });
    assert.match(String(again.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    const other = await request(gw.url, { path: '/pages/account', headers: bob });
    assert.equal(other.headers['cache-status'], 'edge-1; fwd=vary-miss');
    assert.equal(origin.heads.length, 2);
  });
});

/**
 * An origin whose page is everyone's but for one field it writes from the session cookie (a
 * greeting), which it gives no lifetime (Last-Modified alone: heuristically fresh), and answers
 * 304 to a matching If-None-Match with the fields its 200 would have (RFC 9110 §15.4.5).
 */
async function greetingOrigin() {
  const lastWeek = new Date(Date.now() - 7 * 86_400_000).toUTCString();
  return listenOnLoopback((req, res) => {
    const who = /session=(\w+)/.exec(String(req.headers.cookie ?? ''))?.[1] ?? 'guest';
    const fields = {
      'last-modified': lastWeek,
      etag: '"v1"',
      'x-greeting': `hello ${who}`,
      'content-length': '4',
    };
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, fields);
      res.end();
    } else {
      res.writeHead(200, fields);
      res.end(req.method === 'HEAD' ? undefined : 'page');
    }
  });
}

for (const method of ['GET', 'HEAD']) {
  test(`a ${method} with a cookie that revalidates a stored answer nobody gave a lifetime never puts its 304's fields in it for the next user`, async () => {
    const origin = await greetingOrigin();
    const gw = await startTestGateway(cachedPages(origin.url));
    try {
      const guest = await request(gw.url, { path: '/pages/home' });
      assert.equal(guest.headers['x-greeting'], 'hello guest');
      // A reload (no-cache, or max-age=0) revalidates: the origin's 304 greets alice.
      const reload = { ...alice, 'cache-control': 'no-cache' };
      const hers = await request(gw.url, { method, path: '/pages/home', headers: reload });
      assert.match(String(hers.headers['cache-status']), /^edge-1; fwd=request; fwd-status=304/);
      assert.equal(hers.headers['x-greeting'], 'hello alice');
      const next = await request(gw.url, { path: '/pages/home', headers: bob });
      assert.equal(next.headers['x-greeting'], 'hello bob');
      const anonymous = await request(gw.url, { path: '/pages/home' });
      assert.equal(anonymous.headers['x-greeting'], 'hello guest');
    } finally {
      await gw.close();
      await origin.close();
    }
  });
}
