/**
 * A client's conditional request met by a stored answer (RFC 9111 §4.3.2, RFC 9110 §13): the
 * cache evaluates it and answers 304 Not Modified, with the fields a 304 carries (ETag, Date,
 * Cache-Control, Expires, Vary, Content-Location, Age, Last-Modified, and the gateway's own
 * Cache-Status, Via, X-Request-Id), no body, no upstream asked. If-None-Match is compared weakly
 * (RFC 9110 §13.1.2), so the weak ETag a compressing route gave matches; If-Modified-Since
 * counts only without If-None-Match. Before, every hit was a full 200.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

const MODIFIED = 'Tue, 03 Nov 2026 10:00:00 GMT';
const BODY = 'stored page '.repeat(200);

async function setUp(compression = '', etag = '"v1"') {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: [
      'Cache-Control',
      'max-age=60',
      'ETag',
      etag,
      'Last-Modified',
      MODIFIED,
      'Content-Type',
      'text/html',
    ],
    body: BODY,
  });
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
    ${compression}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`);
  const first = await request(gw.url, { path: '/pages/home' });
  assert.equal(first.status, 200);
  return { origin, gw };
}

function assertNotModified(res: Awaited<ReturnType<typeof request>>, etag: string): void {
  assert.equal(res.status, 304);
  assert.equal(res.body.length, 0);
  assert.equal(res.headers.etag, etag);
  assert.equal(res.headers['cache-control'], 'max-age=60');
  assert.equal(res.headers['last-modified'], MODIFIED);
  assert.match(String(res.headers.age), /^\d+$/);
  assert.ok(res.headers.date);
  assert.match(String(res.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.ok(res.headers['x-request-id']);
  assert.equal(res.headers['content-type'], undefined, 'no representation metadata');
  assert.equal(res.headers['content-length'], undefined);
}

for (const [what, headers] of [
  ['If-None-Match with the stored ETag', { 'if-none-match': '"v1"' }],
  ['If-None-Match listing it among others', { 'if-none-match': '"v0", "v1"' }],
  ['If-None-Match with its weak form (weak comparison)', { 'if-none-match': 'W/"v1"' }],
  ['If-None-Match: *', { 'if-none-match': '*' }],
  ['If-Modified-Since at its Last-Modified', { 'if-modified-since': MODIFIED }],
  ['If-Modified-Since after it', { 'if-modified-since': 'Wed, 04 Nov 2026 10:00:00 GMT' }],
] as const) {
  test(`a cache hit for ${what}: 304 with the fields a 304 carries, the upstream not asked`, async () => {
    const { origin, gw } = await setUp();
    try {
      const res = await request(gw.url, {
        path: '/pages/home',
        headers: { ...headers, 'x-request-id': 'cond' },
      });
      assertNotModified(res, '"v1"');
      assert.equal(origin.heads.length, 1, 'the upstream was asked once, for the first');
      const line = await gw.logFor('cond');
      assert.equal(line.status, 304);
      assert.equal(line.cache, 'hit');
    } finally {
      await gw.close();
      await origin.stop();
    }
  });
}

for (const [what, headers] of [
  ['If-None-Match with another ETag', { 'if-none-match': '"v2"' }],
  ['If-Modified-Since before its Last-Modified', { 'if-modified-since': 'Mon, 02 Nov 2026 10:00:00 GMT' }],
  [
    'a failing If-None-Match beside a matching If-Modified-Since (If-None-Match wins)',
    { 'if-none-match': '"v2"', 'if-modified-since': MODIFIED },
  ],
  ['an unreadable If-Modified-Since', { 'if-modified-since': 'yesterday' }],
] as const) {
  test(`a cache hit for ${what}: the full 200`, async () => {
    const { origin, gw } = await setUp();
    try {
      const res = await request(gw.url, { path: '/pages/home', headers });
      assert.equal(res.status, 200);
      assert.equal(res.text, BODY);
      assert.equal(origin.heads.length, 1);
    } finally {
      await gw.close();
      await origin.stop();
    }
  });
}

test('an ETag holding a comma (RFC 9110 §8.8.3 allows one) is one tag of an If-None-Match list: 304', async () => {
  const { origin, gw } = await setUp('', '"v1,2"');
  try {
    const res = await request(gw.url, { path: '/pages/home', headers: { 'if-none-match': '"v0", "v1,2"' } });
    assertNotModified(res, '"v1,2"');
    assert.equal(origin.heads.length, 1);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test('on a compressing route: the weak ETag the compressed 200 carried gets a 304 with that weak ETag', async () => {
  const { origin, gw } = await setUp('compression: {}');
  try {
    const zipped = await request(gw.url, { path: '/pages/home', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.etag, 'W/"v1"');
    const res = await request(gw.url, {
      path: '/pages/home',
      headers: { 'accept-encoding': 'gzip', 'if-none-match': 'W/"v1"' },
    });
    assertNotModified(res, 'W/"v1"');
    assert.match(String(res.headers.vary), /accept-encoding/i);
    assert.equal(res.headers['content-encoding'], undefined);
    // The identity answer's strong ETag, asked without compression: its 304 keeps it strong.
    const plain = await request(gw.url, { path: '/pages/home', headers: { 'if-none-match': '"v1"' } });
    assertNotModified(plain, '"v1"');
    assert.equal(origin.heads.length, 1);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test('If-Modified-Since on a stored answer without Last-Modified is read against its Date (RFC 9111 §4.3.2): 304 at or after it, the full 200 before', async () => {
  // Sent now: a Date long past would make the answer that old, and stale (RFC 9111 §4.2.3).
  const sent = new Date().toUTCString();
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60', 'Date', sent, 'Content-Type', 'text/html'],
    body: BODY,
  });
  const gw = await startTestGateway(cachedPages(origin.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    const same = await request(gw.url, { path: '/pages/home', headers: { 'if-modified-since': sent } });
    assert.equal(same.status, 304);
    assert.equal(same.body.length, 0);
    assert.equal(same.headers.date, sent);
    assert.equal(same.headers['last-modified'], undefined);
    assert.match(String(same.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    const before = await request(gw.url, {
      path: '/pages/home',
      headers: { 'if-modified-since': new Date(Date.parse(sent) - 86_400_000).toUTCString() },
    });
    assert.equal(before.status, 200);
    assert.equal(before.text, BODY);
    assert.equal(origin.heads.length, 1, 'every conditional answered from the store');
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test('an If-Modified-Since that is no HTTP-date (`2027`, a date without its time) is ignored (RFC 9110 §13.1.3): the full 200', async () => {
  const { origin, gw } = await setUp();
  try {
    for (const value of ['2027', 'Nov 30 2026', '2027-01-01T00:00:00Z']) {
      const res = await request(gw.url, { path: '/pages/home', headers: { 'if-modified-since': value } });
      assert.equal(res.status, 200, value);
      assert.equal(res.text, BODY, value);
    }
    const real = await request(gw.url, {
      path: '/pages/home',
      headers: { 'if-modified-since': 'Sunday, 29-Nov-26 10:00:00 GMT' },
    });
    assert.equal(real.status, 304, 'the obsolete RFC 850 form is still an HTTP-date');
    assert.equal(origin.heads.length, 1);
  } finally {
    await gw.close();
    await origin.stop();
  }
});

test('If-None-Match: * on a stored answer without an ETag is a 304 (RFC 9110 §13.1.2: false when there is a current representation); another tag is the 200', async () => {
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60', 'Last-Modified', MODIFIED, 'Content-Type', 'text/html'],
    body: BODY,
  });
  const gw = await startTestGateway(cachedPages(origin.url));
  try {
    assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
    const any = await request(gw.url, { path: '/pages/home', headers: { 'if-none-match': '*' } });
    assert.equal(any.status, 304);
    assert.equal(any.body.length, 0);
    assert.equal(any.headers.etag, undefined);
    assert.equal(any.headers['last-modified'], MODIFIED);
    assert.match(String(any.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    const other = await request(gw.url, { path: '/pages/home', headers: { 'if-none-match': '"v1"' } });
    assert.equal(other.status, 200);
    assert.equal(other.text, BODY);
    assert.equal(origin.heads.length, 1, 'both answered from the store');
  } finally {
    await gw.close();
    await origin.stop();
  }
});

for (const [what, tag, freshened] of [
  ['names the stored ETag: it freshens the stored answer, and the next request is a hit', '"v1"', true],
  ['names another ETag: the stored answer stays as it was, stale', '"v0"', false],
] as const) {
  test(`a 304 the upstream gives a client's own If-None-Match on a stale stored answer ${what}`, async () => {
    // Stored stale at once (Age past max-age): a client's conditional goes upstream as it is.
    const origin = await startMoodyOrigin({
      status: 200,
      fields: ['Cache-Control', 'max-age=60', 'Age', '120', 'ETag', '"v1"'],
      body: BODY,
    });
    const gw = await startTestGateway(cachedPages(origin.url));
    try {
      assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
      origin.answer = { status: 200, fields: ['Cache-Control', 'max-age=60', 'ETag', tag], body: BODY };
      origin.notModifiedFor = tag;
      const own = await request(gw.url, { path: '/pages/home', headers: { 'if-none-match': tag } });
      assert.equal(own.status, 304);
      assert.equal(own.headers.etag, tag);
      assert.equal(own.headers['cache-status'], 'edge-1; fwd=stale');
      assert.match(
        origin.heads[1],
        new RegExp(`^if-none-match: ${tag}$`, 'im'),
        "the client's own validator",
      );
      const next = await request(gw.url, { path: '/pages/home' });
      assert.equal(next.status, 200);
      assert.equal(next.text, BODY);
      if (freshened) {
        assert.match(String(next.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
        assert.equal(next.headers.age, '0', "the 304's age, not the stale answer's");
        assert.equal(origin.heads.length, 2);
      } else {
        assert.equal(next.headers['cache-status'], 'edge-1; fwd=stale');
        assert.equal(origin.heads.length, 3);
      }
    } finally {
      await gw.close();
      await origin.stop();
    }
  });
}

test('If-Match and If-Unmodified-Since on a fresh stored answer go upstream, which evaluates them: its 412, not the stored 200', async (t) => {
  const up = await listenOnLoopback((req, res) => {
    const match = req.headers['if-match'];
    const since = req.headers['if-unmodified-since'];
    const failed =
      (match !== undefined && match !== '"v1"') ||
      (since !== undefined && Date.parse(since) < Date.parse(MODIFIED));
    res.writeHead(failed ? 412 : 200, {
      'cache-control': 'max-age=60',
      etag: '"v1"',
      'last-modified': MODIFIED,
    });
    res.end(failed ? '' : BODY);
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
  assert.match(
    String((await request(gw.url, { path: '/pages/home' })).headers['cache-status']),
    /^edge-1; hit/,
  );
  for (const headers of [
    { 'if-match': '"v0"' },
    { 'if-unmodified-since': 'Mon, 02 Nov 2026 10:00:00 GMT' },
  ]) {
    const res = await request(gw.url, { path: '/pages/home', headers });
    assert.equal(res.status, 412, JSON.stringify(headers));
    assert.equal(res.headers['cache-status'], 'edge-1; fwd=bypass');
  }
  const kept = await request(gw.url, { path: '/pages/home', headers: { 'if-match': '"v1"' } });
  assert.equal(kept.status, 200);
  assert.equal(kept.text, BODY);
  assert.match(
    String((await request(gw.url, { path: '/pages/home' })).headers['cache-status']),
    /^edge-1; hit/,
  );
});
