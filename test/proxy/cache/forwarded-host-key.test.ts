/**
 * Behind a proxy in `trust_forwarded_from`, the host the client addressed reaches the upstream
 * in X-Forwarded-Host (or Forwarded's `host=`), with X-Forwarded-Port and -Prefix: what
 * frameworks build absolute links and redirects from. A proxy that sends one Host for many sites
 * (nginx's default `proxy_set_header Host $proxy_host`) had every site's page stored under that
 * Host: one site's links given to another's clients. The key holds what the upstream is told of
 * them beside Host; a client the gateway does not trust is told its own truth, and keys as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { type LoopbackServer, listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** An upstream that builds its page's absolute link as frameworks do, from the forwarded fields (Forwarded's first, as Spring). */
async function linkBuilder(seen: string[]): Promise<LoopbackServer> {
  return listenOnLoopback((req, res) => {
    const forwardedHost = /host="?([^;,"]+)/.exec(String(req.headers.forwarded ?? ''))?.[1];
    const host = forwardedHost ?? req.headers['x-forwarded-host'] ?? req.headers.host;
    const port = req.headers['x-forwarded-port'] === undefined ? '' : `:${req.headers['x-forwarded-port']}`;
    const link = `${req.headers['x-forwarded-proto']}://${host}${port}${req.headers['x-forwarded-prefix'] ?? ''}${req.url}`;
    seen.push(`${req.method} ${link}`);
    res.writeHead(req.method === 'GET' ? 200 : 204, { 'cache-control': 'max-age=60' });
    res.end(req.method === 'GET' ? link : undefined);
  });
}

async function withGateway(trusted: boolean, run: (gw: TestGateway, seen: string[]) => Promise<void>) {
  const seen: string[] = [];
  const upstream = await linkBuilder(seen);
  const gw = await startTestGateway(`name: edge-1
${trusted ? 'trust_forwarded_from: [127.0.0.1]' : ''}
routes:
  - { name: site, upstream: app, cache: {} }
upstreams:
  app: { targets: [{ url: ${upstream.url} }] }
`);
  try {
    await run(gw, seen);
  } finally {
    await gw.close();
    await upstream.close();
  }
}

const get = (gw: TestGateway, headers: Record<string, string>, method = 'GET') =>
  request(gw.url, { method, path: '/page', headers: { host: 'origin.internal', ...headers } });

test("a trusted proxy's X-Forwarded-Host keys the answer: one site's links never reach another's clients", async () => {
  await withGateway(true, async (gw, seen) => {
    const shop1 = { 'x-forwarded-host': 'shop1.test', 'x-forwarded-proto': 'https' };
    const shop2 = { 'x-forwarded-host': 'shop2.test', 'x-forwarded-proto': 'https' };
    assert.equal((await get(gw, shop1)).text, 'https://shop1.test/page');
    const second = await get(gw, shop2);
    assert.equal(second.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.equal(second.text, 'https://shop2.test/page');
    // Each site's page is kept: the next of each is a hit, with its own links.
    for (const [fields, link] of [
      [shop1, 'https://shop1.test/page'],
      [shop2, 'https://shop2.test/page'],
      // The same host in another case, or with its scheme's port, is the same site.
      [{ ...shop2, 'x-forwarded-host': 'SHOP2.test:443' }, 'https://shop2.test/page'],
    ] as const) {
      const hit = await get(gw, fields);
      assert.match(String(hit.headers['cache-status']), /^edge-1; hit; /);
      assert.equal(hit.text, link);
    }
    assert.deepEqual(seen, ['GET https://shop1.test/page', 'GET https://shop2.test/page']);
  });
});

test("a trusted proxy's X-Forwarded-Prefix and -Port, and a Forwarded host=, key the answer as its X-Forwarded-Host does", async () => {
  await withGateway(true, async (gw, seen) => {
    const base = { 'x-forwarded-host': 'shop1.test', 'x-forwarded-proto': 'https' };
    await get(gw, base);
    for (const [fields, link] of [
      [{ ...base, 'x-forwarded-prefix': '/eu' }, 'https://shop1.test/eu/page'],
      [{ ...base, 'x-forwarded-port': '8443' }, 'https://shop1.test:8443/page'],
      [{ forwarded: 'for=192.0.2.7;host=shop3.test;proto=https' }, 'https://shop3.test/page'],
    ] as const) {
      const res = await get(gw, fields);
      assert.equal(res.headers['cache-status'], 'edge-1; fwd=uri-miss', JSON.stringify(fields));
      assert.equal(res.text, link);
    }
    assert.equal(seen.length, 4);
  });
});

test("an unsafe request through the trusted proxy invalidates its own site's page, which the next GET fetches again", async () => {
  await withGateway(true, async (gw, seen) => {
    const shop2 = { 'x-forwarded-host': 'shop2.test', 'x-forwarded-proto': 'https' };
    await get(gw, shop2);
    assert.equal((await get(gw, shop2, 'POST')).status, 204);
    assert.equal((await get(gw, shop2)).headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.deepEqual(seen, [
      'GET https://shop2.test/page',
      'POST https://shop2.test/page',
      'GET https://shop2.test/page',
    ]);
  });
});

test('a client not trusted is told its own truth: its forwarded fields change neither the upstream request nor the key', async () => {
  await withGateway(false, async (gw, seen) => {
    assert.equal((await get(gw, {})).text, 'http://origin.internal/page');
    const forged = {
      'x-forwarded-host': 'evil.test',
      'x-forwarded-prefix': '/evil',
      'x-forwarded-port': '1',
      forwarded: 'host=evil.test',
    };
    const hit = await get(gw, forged);
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit; /);
    assert.equal(hit.text, 'http://origin.internal/page');
    assert.deepEqual(seen, ['GET http://origin.internal/page']);
  });
});

/**
 * An upstream that reads the host and scheme in the other spellings a trusted proxy may send them
 * in (which the gateway passes on from it: docs/data-path.md), as middleware does: Rack's
 * X-Forwarded-Ssl and X-Forwarded-Scheme, Microsoft's Front-End-Https, X-Url-Scheme, and the host
 * of IIS ARR's or Azure's X-Original-Host, X-Host, X-HTTP-Host-Override, X-Forwarded-Server.
 */
async function otherSpellings(seen: string[]): Promise<LoopbackServer> {
  return listenOnLoopback((req, res) => {
    const h = req.headers;
    const on = (value: unknown) => String(value).toLowerCase() === 'on';
    const scheme =
      on(h['x-forwarded-ssl']) || on(h['front-end-https'])
        ? 'https'
        : (h['x-forwarded-scheme'] ?? h['x-url-scheme'] ?? h['x-forwarded-proto']);
    const host =
      h['x-original-host'] ?? h['x-host'] ?? h['x-http-host-override'] ?? h['x-forwarded-server'] ?? h.host;
    const link = `${scheme}://${host}${req.url}`;
    seen.push(link);
    res.writeHead(200, { 'cache-control': 'max-age=60' });
    res.end(link);
  });
}

test("a trusted proxy's host or scheme in another spelling keys the answer: an http client never gets the https page's links, nor one site another's", async () => {
  const seen: string[] = [];
  const upstream = await otherSpellings(seen);
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - { name: site, upstream: app, cache: {} }
upstreams:
  app: { targets: [{ url: ${upstream.url} }] }
`);
  try {
    assert.equal((await get(gw, {})).text, 'http://origin.internal/page');
    for (const [fields, link] of [
      [{ 'x-forwarded-ssl': 'on' }, 'https://origin.internal/page'],
      [{ 'front-end-https': 'On' }, 'https://origin.internal/page'],
      [{ 'x-forwarded-scheme': 'https' }, 'https://origin.internal/page'],
      [{ 'x-url-scheme': 'https' }, 'https://origin.internal/page'],
      [{ 'x-original-host': 'shop1.test' }, 'http://shop1.test/page'],
      [{ 'x-host': 'shop2.test' }, 'http://shop2.test/page'],
      [{ 'x-http-host-override': 'shop3.test' }, 'http://shop3.test/page'],
      [{ 'x-forwarded-server': 'shop4.test' }, 'http://shop4.test/page'],
    ] as const) {
      const first = await get(gw, fields);
      assert.equal(first.headers['cache-status'], 'edge-1; fwd=uri-miss', JSON.stringify(fields));
      assert.equal(first.text, link);
      const again = await get(gw, fields);
      assert.match(String(again.headers['cache-status']), /^edge-1; hit; /, JSON.stringify(fields));
      assert.equal(again.text, link);
    }
    // The page of the proxy's plain http client is still its own.
    const plain = await get(gw, {});
    assert.match(String(plain.headers['cache-status']), /^edge-1; hit; /);
    assert.equal(plain.text, 'http://origin.internal/page');
    assert.equal(seen.length, 9);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test("a proto= in the trusted proxy's Forwarded that is not the scheme keys the answer: a client's http element never makes the https page http for all", async () => {
  const seen: string[] = [];
  // Spring reads Forwarded's first proto= (its client's element, which nginx passes on), before X-Forwarded-Proto.
  const upstream = await listenOnLoopback((req, res) => {
    const proto = /proto=([a-z]+)/i.exec(String(req.headers.forwarded ?? ''))?.[1];
    const link = `${proto ?? req.headers['x-forwarded-proto']}://${req.headers.host}${req.url}`;
    seen.push(link);
    res.writeHead(200, { 'cache-control': 'max-age=60' });
    res.end(link);
  });
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - { name: site, upstream: app, cache: {} }
upstreams:
  app: { targets: [{ url: ${upstream.url} }] }
`);
  try {
    const https = { 'x-forwarded-proto': 'https' };
    const forged = await get(gw, { ...https, forwarded: 'for=192.0.2.7;proto=http' });
    assert.equal(forged.text, 'http://origin.internal/page');
    const clean = await get(gw, https);
    assert.equal(clean.headers['cache-status'], 'edge-1; fwd=uri-miss');
    assert.equal(clean.text, 'https://origin.internal/page');
    // One that says the scheme the request was routed by is that scheme's page.
    const same = await get(gw, { ...https, forwarded: 'for=192.0.2.7;proto=HTTPS' });
    assert.match(String(same.headers['cache-status']), /^edge-1; hit; /);
    assert.equal(same.text, 'https://origin.internal/page');
    assert.equal(seen.length, 2);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
