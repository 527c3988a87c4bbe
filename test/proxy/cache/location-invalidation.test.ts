/**
 * RFC 9111 §4.4: an unsafe request's success may also invalidate the URIs its answer names in
 * `Location` and `Content-Location` (a POST to a collection that made `/pages/items/7`, a PUT
 * whose answer names the representation it changed), and must not where their origin differs
 * from the target URI's (another host: one host's answer cannot invalidate another's pages).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';

/** Pages fresh for 10 minutes, each GET counted; a POST to `/pages/items` answers with `fields`. */
async function shop(t: { after(fn: () => unknown): void }, fields: Record<string, string>) {
  const gets = new Map<string, number>();
  const up = await listenOnLoopback((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') {
        const url = req.url as string;
        gets.set(url, (gets.get(url) ?? 0) + 1);
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        return res.end(`${url} #${gets.get(url)}`);
      }
      res.writeHead(201, fields);
      res.end('made');
    });
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  const get = (path: string, host = 'shop.test') => request(gw.url, { path, headers: { host } });
  return { gw, gets, get };
}

test('a POST whose 201 names a page in Location (relative) and Content-Location (absolute, same host) invalidates both', async (t) => {
  const { gw, gets, get } = await shop(t, {
    location: '/pages/items/7',
    'content-location': 'http://SHOP.test:80/pages/items/7/summary',
  });
  for (const path of ['/pages/items/7', '/pages/items/7/summary']) {
    await get(path);
    assert.match(String((await get(path)).headers['cache-status']), /^edge-1; hit; /);
  }
  const made = await request(gw.url, {
    method: 'POST',
    path: '/pages/items',
    headers: { host: 'shop.test' },
    body: 'x',
  });
  assert.equal(made.status, 201);
  for (const path of ['/pages/items/7', '/pages/items/7/summary']) {
    const after = await get(path);
    assert.equal(after.headers['cache-status'], 'edge-1; fwd=uri-miss', path);
    assert.equal(after.text, `${path} #2`);
    assert.equal(gets.get(path), 2);
  }
});

test("a Location or Content-Location of another host, or another port, invalidates nothing: that origin's pages stay", async (t) => {
  const { gw, gets, get } = await shop(t, {
    location: 'http://other.test/pages/items/7',
    'content-location': 'http://shop.test:8080/pages/items/7',
  });
  await get('/pages/items/7', 'other.test');
  await get('/pages/items/7', 'shop.test:8080');
  await get('/pages/items/7');
  const made = await request(gw.url, {
    method: 'POST',
    path: '/pages/items',
    headers: { host: 'shop.test' },
    body: 'x',
  });
  assert.equal(made.status, 201);
  for (const host of ['other.test', 'shop.test:8080', 'shop.test']) {
    const again = await get('/pages/items/7', host);
    assert.match(String(again.headers['cache-status']), /^edge-1; hit; /, host);
  }
  assert.equal(gets.get('/pages/items/7'), 3);
});

test('a POST the upstream refuses (4xx) invalidates nothing its answer names', async (t) => {
  const gets = new Map<string, number>();
  const up = await listenOnLoopback((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') {
        gets.set(req.url as string, (gets.get(req.url as string) ?? 0) + 1);
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        return res.end('page');
      }
      res.writeHead(409, { location: '/pages/items/7' });
      res.end('conflict');
    });
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url));
  t.after(() => gw.close());
  await request(gw.url, { path: '/pages/items/7' });
  assert.equal((await request(gw.url, { method: 'POST', path: '/pages/items', body: 'x' })).status, 409);
  const again = await request(gw.url, { path: '/pages/items/7' });
  assert.match(String(again.headers['cache-status']), /^edge-1; hit; /);
  assert.equal(gets.get('/pages/items/7'), 1);
});

test('a Location or Content-Location spelled as the normal form is not (%7E for "~", lowercase hex) invalidates the page stored under the normal form', async (t) => {
  // Java's URLEncoder writes `~` as %7E; the request for the page was keyed by its normal form
  // (`/pages/items/~jane`, `%2C`), so a Location taken as written named a key nothing is under.
  const { gw, gets, get } = await shop(t, {
    location: '/pages/items/%7ejane',
    'content-location': '/pages/items/a%2cb',
  });
  for (const path of ['/pages/items/~jane', '/pages/items/a%2Cb']) {
    await get(path);
    assert.match(String((await get(path)).headers['cache-status']), /^edge-1; hit; /);
  }
  const made = await request(gw.url, {
    method: 'POST',
    path: '/pages/items',
    headers: { host: 'shop.test' },
    body: 'x',
  });
  assert.equal(made.status, 201);
  for (const path of ['/pages/items/~jane', '/pages/items/a%2Cb']) {
    const after = await get(path);
    assert.equal(after.headers['cache-status'], 'edge-1; fwd=uri-miss', path);
    assert.equal(gets.get(path), 2, path);
  }
});
