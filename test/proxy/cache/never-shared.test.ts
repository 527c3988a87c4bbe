/**
 * What a shared cache must never hand from one client to another, and what it adds to no
 * answer: a cookie a revalidation's 304 set, a Warning (obsolete since RFC 9111), an answer
 * whose Vary is "*" (it matches no later request: stored, it only takes room).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { type MoodyOrigin, startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const CONFIG = (url: string) => `name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: ${url}
`;

async function withGateway(
  answer: MoodyOrigin['answer'],
  run: (gw: TestGateway, origin: MoodyOrigin) => Promise<void>,
): Promise<void> {
  const origin = await startMoodyOrigin(answer);
  try {
    const gw = await startTestGateway(CONFIG(origin.url));
    try {
      await run(gw, origin);
    } finally {
      await gw.close();
    }
  } finally {
    await origin.stop();
  }
}

const NEVER_STORED: ReadonlyArray<{ what: string; fields: string[]; asked?: Record<string, string> }> = [
  { what: 'sets a cookie', fields: ['Cache-Control', 'public, max-age=60', 'Set-Cookie', 'session=alice'] },
  {
    what: 'answers a request with Authorization, not public',
    fields: ['Cache-Control', 'max-age=60'],
    asked: { authorization: 'Bearer alice' },
  },
  { what: 'is private', fields: ['Cache-Control', 'private, max-age=60'] },
  { what: 'is no-store', fields: ['Cache-Control', 'no-store, max-age=60'] },
  { what: 'varies on everything (Vary: *)', fields: ['Cache-Control', 'max-age=60', 'Vary', '*'] },
];

for (const { what, fields, asked } of NEVER_STORED) {
  test(`an answer that ${what} is never stored: the next request is a miss that reaches the upstream`, async () => {
    await withGateway({ status: 200, fields, body: "one client's page" }, async (gw, origin) => {
      const first = await request(gw.url, { path: '/pages/n', headers: asked });
      assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss');
      const next = await request(gw.url, { path: '/pages/n' });
      assert.equal(next.headers['cache-status'], 'edge-1; fwd=uri-miss');
      assert.equal(origin.heads.length, 2);
    });
  });
}

// RFC 9111 §3.5: public, s-maxage and must-revalidate each let a shared cache keep an answer to a
// request with Authorization (must-revalidate too, which the store's freshness reads without).
for (const cacheControl of ['public, max-age=60', 'max-age=60, must-revalidate', 's-maxage=60']) {
  test(`an answer to a request with Authorization that says ${cacheControl} is stored: a hit`, async () => {
    const fields = ['Cache-Control', cacheControl];
    await withGateway({ status: 200, fields, body: 'for everyone' }, async (gw, origin) => {
      await request(gw.url, { path: '/pages/p', headers: { authorization: 'Bearer alice' } });
      const hit = await request(gw.url, { path: '/pages/p', headers: { authorization: 'Bearer bob' } });
      assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
      assert.equal(hit.text, 'for everyone');
      assert.equal(origin.heads.length, 1);
    });
  });
}

test("a cookie on the upstream's 304 to a revalidation never goes into the stored answer", async () => {
  const answer = { status: 200, fields: ['Cache-Control', 'max-age=0', 'ETag', '"v1"'], body: 'page' };
  await withGateway(answer, async (gw, origin) => {
    await request(gw.url, { path: '/pages/a' });
    // The revalidation's 304 makes the answer fresh for a minute and sets a cookie.
    origin.notModifiedFor = '"v1"';
    origin.answer = {
      ...answer,
      fields: ['Cache-Control', 'max-age=60', 'ETag', '"v1"', 'Set-Cookie', 'session=alice'],
    };
    const alice = await request(gw.url, { path: '/pages/a' });
    assert.match(String(alice.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=\d+$/);
    const bob = await request(gw.url, { path: '/pages/a' });
    assert.match(String(bob.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    assert.equal(bob.text, 'page');
    assert.equal(bob.headers['set-cookie'], undefined);
    assert.equal(origin.heads.length, 2);
  });
});

test('a stored answer goes out without a Warning, even one heuristically fresh for days and a day old', async () => {
  // No explicit freshness: 10% of the year since Last-Modified (RFC 9111 §4.2.2), capped at a
  // day, and a day old already: given to a client's max-stale, with the library's 113 taken out.
  const year = new Date(Date.now() - 365 * 86_400_000).toUTCString();
  const answer = {
    status: 200,
    fields: ['Last-Modified', year, 'Age', '86500', 'Date', new Date().toUTCString()],
    body: 'old page',
  };
  await withGateway(answer, async (gw, origin) => {
    await request(gw.url, { path: '/pages/w' });
    const hit = await request(gw.url, { path: '/pages/w', headers: { 'cache-control': 'max-stale=7200' } });
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=-\d+$/);
    assert.equal(hit.text, 'old page');
    assert.match(String(hit.headers.age), /^865\d{2}$/);
    assert.equal(hit.headers.warning, undefined);
    assert.equal(origin.heads.length, 1);
  });
});
