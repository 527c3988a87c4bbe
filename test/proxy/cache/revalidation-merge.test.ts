/**
 * A 304 to the cache's own validators updates the stored answer as RFC 9111 §3.2 and §4.3.4
 * say: the fields it carries replace or join the stored ones, the others (Content-Type, ETag…)
 * stay, whatever validators the 304 repeats (RFC 9110 §15.4.5 asks it for none but ETag); its
 * Set-Cookie goes to the client whose request it answered, and is never kept; and a 304 whose
 * ETag names another representation updates nothing.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import type http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const STORED = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'max-age=0',
  'last-modified': 'Tue, 01 Jan 2019 00:00:00 GMT',
  etag: '"v1"',
  'x-page': 'home',
};

/** An origin whose 200 is STORED's, and whose 304 to a conditional request carries `notModified` alone. */
async function origin(
  t: { after(fn: () => unknown): void },
  notModified: http.OutgoingHttpHeaders,
  cache = '{}',
) {
  const conditionals: http.IncomingHttpHeaders[] = [];
  // Closed mid-test to refuse: on a port no other test file's listen(0) is given meanwhile.
  const at = await freePort();
  const up = await listenOnLoopback(
    (req, res) => {
      if (req.headers['if-none-match'] === undefined) {
        res.writeHead(200, STORED);
        res.end('<p>home</p>');
        return;
      }
      conditionals.push(req.headers);
      res.writeHead(304, notModified);
      res.end();
    },
    '127.0.0.1',
    at,
  );
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url, cache));
  t.after(() => gw.close());
  return { gw, up, conditionals };
}

test("a 304 without validators refreshes the stored answer: its fields join the stored ones, which stay, and its Set-Cookie is its own client's alone", async (t) => {
  const { gw, conditionals } = await origin(t, {
    'cache-control': 'max-age=60',
    'x-build': '42',
    'set-cookie': 'sid=alice',
  });
  assert.equal((await request(gw.url, { path: '/pages/home' })).status, 200);
  const revalidated = await request(gw.url, { path: '/pages/home' });
  assert.equal(conditionals.length, 1);
  assert.equal(conditionals[0]['if-none-match'], '"v1"');
  assert.equal(revalidated.status, 200);
  assert.equal(revalidated.text, '<p>home</p>');
  assert.match(
    String(revalidated.headers['cache-status']),
    /^edge-1; fwd=stale; fwd-status=304; ttl=(59|60)$/,
  );
  assert.deepEqual(
    revalidated.headers['set-cookie'],
    ['sid=alice'],
    "the 304's cookie reaches the client it was set for",
  );
  const next = await request(gw.url, { path: '/pages/home' });
  assert.equal(next.headers['set-cookie'], undefined, "one client's cookie is never the stored answer's");
  for (const res of [revalidated, next]) {
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8', 'the stored Content-Type stays');
    assert.equal(res.headers.etag, '"v1"');
    assert.equal(res.headers['last-modified'], STORED['last-modified']);
    assert.equal(res.headers['x-page'], 'home');
    assert.equal(res.headers['x-build'], '42', 'a field the 304 brought joins them');
    assert.equal(res.headers['cache-control'], 'max-age=60', "the 304's replaces the stored one");
  }
  const hit = await request(gw.url, { path: '/pages/home' });
  assert.match(
    String(hit.headers['cache-status']),
    /^edge-1; hit; ttl=(5\d|60)$/,
    "fresh by the 304's max-age",
  );
  assert.equal(conditionals.length, 1, 'the hits reached no upstream');
});

test('a 304 whose ETag names another representation updates nothing: the stored answer goes as it stands, still stale', async (t) => {
  const { gw, conditionals } = await origin(t, {
    etag: '"v2"',
    'cache-control': 'max-age=60',
    'x-build': '42',
  });
  await request(gw.url, { path: '/pages/home' });
  const res = await request(gw.url, { path: '/pages/home' });
  assert.equal(res.status, 200);
  assert.equal(res.text, '<p>home</p>');
  assert.equal(res.headers.etag, '"v1"');
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'max-age=0');
  assert.equal(res.headers['x-build'], undefined);
  assert.match(String(res.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=(0|-\d+)$/);
  await request(gw.url, { path: '/pages/home' });
  assert.equal(conditionals.length, 2, 'still stale: the next request revalidates again');
});

test("the 304's Cache-Control decides the stale-if-error window from then on, as it decides freshness", async (t) => {
  const { gw, up, conditionals } = await origin(t, { 'cache-control': 'max-age=0, stale-if-error=0' });
  await request(gw.url, { path: '/pages/home' });
  assert.equal(
    (await request(gw.url, { path: '/pages/home' })).headers['cache-control'],
    'max-age=0, stale-if-error=0',
  );
  assert.equal(conditionals.length, 1);
  await up.close();
  // The stored max-age=0 alone gave the route's 5m; the 304's stale-if-error=0 gives none.
  const down = await request(gw.url, { path: '/pages/home', headers: { 'x-request-id': 'down' } });
  assert.equal(down.status, 502);
  assert.match(String(down.headers['proxy-status']), /error=connection_refused/);
  assert.equal(down.headers['cache-status'], undefined, "the gateway's own 502 (RFC 9211 §2)");
  assert.equal((await gw.logFor('down')).cache, 'fwd=stale', 'kept for a revalidation, never given stale');
});

for (const directive of ['no-store', 'private']) {
  test(`a 304 that says ${directive} ends the stored answer's keeping, its file in cache.dir too: it answers the request that revalidated it, and no other, not even in place of a failure`, async (t) => {
    const dir = tempDir('candor-cache-');
    const { gw, up, conditionals } = await origin(
      t,
      { 'cache-control': `max-age=60, ${directive}` },
      `{ dir: ${dir} }`,
    );
    const files = () => readdirSync(join(dir, 'pages')).filter((name) => /^[0-9a-f]{64}$/.test(name));
    await request(gw.url, { path: '/pages/home' });
    await waitUntil('the answer written to the directory', () => files().length === 1);
    const revalidated = await request(gw.url, { path: '/pages/home' });
    assert.equal(revalidated.text, '<p>home</p>');
    assert.equal(revalidated.headers['cache-control'], `max-age=60, ${directive}`);
    assert.equal(conditionals.length, 1);
    assert.deepEqual(files(), [], 'no worker reads it back from the directory');
    await up.close();
    const down = await request(gw.url, { path: '/pages/home', headers: { 'x-request-id': 'down' } });
    assert.equal(down.status, 502);
    assert.equal((await gw.logFor('down')).cache, 'fwd=uri-miss', 'nothing stored');
  });
}

test('a 304 whose Last-Modified is another than the stored one (no ETag on either) updates nothing: the stored answer stays stale, its date as it was', async (t) => {
  const stored = 'Tue, 01 Jan 2019 00:00:00 GMT';
  // A file put back from an older copy: its date went back, and an origin comparing
  // If-Modified-Since with `<=` answers 304 for what is another representation.
  const older = 'Mon, 01 Jan 2018 00:00:00 GMT';
  const conditionals: (string | undefined)[] = [];
  const up = await listenOnLoopback((req, res) => {
    const since = req.headers['if-modified-since'];
    if (since === undefined) {
      res.writeHead(200, { 'cache-control': 'max-age=0', 'last-modified': stored });
      res.end('<p>home</p>');
      return;
    }
    conditionals.push(since);
    res.writeHead(304, { 'cache-control': 'max-age=60', 'last-modified': older });
    res.end();
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/home' });
  const res = await request(gw.url, { path: '/pages/home' });
  assert.deepEqual(conditionals, [stored]);
  assert.equal(res.status, 200);
  assert.equal(res.text, '<p>home</p>');
  assert.equal(res.headers['last-modified'], stored, 'the stored body keeps the date it came with');
  assert.equal(res.headers['cache-control'], 'max-age=0');
  assert.match(String(res.headers['cache-status']), /^edge-1; fwd=stale; fwd-status=304; ttl=(0|-\d+)$/);
  await request(gw.url, { path: '/pages/home' });
  assert.equal(conditionals.length, 2, 'still stale: the next request revalidates again');
});

test("a 304's Connection and the fields it names are not stored: the stored answer's own hop-by-hop field, which its Connection named, never reaches a client", async (t) => {
  const answers = [
    // X-Trace is this hop's alone (RFC 9110 §7.6.1): named by the 200's Connection.
    'HTTP/1.1 200 OK\r\nCache-Control: max-age=0\r\nETag: "v1"\r\nConnection: x-trace\r\nX-Trace: 10.0.0.7\r\nContent-Length: 4\r\n\r\nhome',
    'HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=60\r\nETag: "v1"\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 10.0.0.8\r\nX-Build: 42\r\n\r\n',
  ];
  const up = await scriptedUpstream((socket) => {
    socket.write(answers.shift() ?? 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n');
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  assert.equal((await request(gw.url, { path: '/pages/home' })).headers['x-trace'], undefined);
  const revalidated = await request(gw.url, { path: '/pages/home' });
  const hit = await request(gw.url, { path: '/pages/home' });
  assert.equal(up.requests.length, 2);
  assert.match(up.requests[1].head, /\r\nif-none-match: "v1"(\r\n|$)/i);
  assert.match(
    String(revalidated.headers['cache-status']),
    /^edge-1; fwd=stale; fwd-status=304; ttl=(59|60)$/,
  );
  assert.match(String(hit.headers['cache-status']), /^edge-1; hit; ttl=(59|60)$/);
  for (const res of [revalidated, hit]) {
    assert.equal(res.text, 'home');
    assert.equal(res.headers['x-trace'], undefined, "the 200's hop-by-hop field stays this hop's");
    assert.equal(res.headers['x-hop'], undefined, "the 304's too");
    assert.equal(res.headers['keep-alive'], undefined);
    assert.equal(res.headers['x-build'], '42', 'an end-to-end field of the 304 joins the stored ones');
  }
});
