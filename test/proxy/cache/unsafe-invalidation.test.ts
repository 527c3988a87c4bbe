/**
 * RFC 9111 §4.4: an unsafe request (POST, PUT, DELETE, PATCH…) that its upstream answers with
 * a status under 400 invalidates the stored answer of its target URI, in memory and in the
 * route's shared directory: the next GET goes upstream and gets the resource as it now is. An
 * error answer changed nothing, and invalidates nothing.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { cachedPages, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** An item store: GET reads it (fresh for 10 minutes), PUT writes it, DELETE removes it, `/pages/locked` refuses changes. */
async function itemStore(t: { after(fn: () => unknown): void }, cache = '{}') {
  let item = 'v1';
  const gets: string[] = [];
  const up = await listenOnLoopback((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.method === 'GET') {
        gets.push(req.url as string);
        res.writeHead(item === '' ? 404 : 200, { 'cache-control': 'max-age=600' });
        return res.end(item);
      }
      if (req.url === '/pages/locked') {
        res.writeHead(409);
        return res.end('locked');
      }
      item = req.method === 'DELETE' ? '' : body;
      res.writeHead(req.method === 'DELETE' ? 204 : 200);
      res.end();
    });
  });
  t.after(() => up.close());
  const gw = await startTestGateway(cachedPages(up.url, cache));
  t.after(() => gw.close());
  return { gw, gets };
}

test('a PUT, then a DELETE the upstream answered invalidate the stored answer: each next GET reaches the upstream', async (t) => {
  const { gw, gets } = await itemStore(t);
  await request(gw.url, { path: '/pages/item' });
  assert.match(String((await request(gw.url, { path: '/pages/item' })).headers['cache-status']), /; hit; /);
  const put = await request(gw.url, { method: 'PUT', path: '/pages/item', body: 'v2' });
  assert.equal(put.status, 200);
  assert.equal(put.headers['cache-status'], 'edge-1; fwd=method');
  const after = await request(gw.url, { path: '/pages/item' });
  assert.equal(after.text, 'v2');
  assert.equal(after.headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.equal((await request(gw.url, { method: 'DELETE', path: '/pages/item' })).status, 204);
  const gone = await request(gw.url, { path: '/pages/item' });
  assert.equal(gone.status, 404);
  assert.equal(gone.headers['cache-status'], 'edge-1; fwd=uri-miss');
  assert.deepEqual(gets, ['/pages/item', '/pages/item', '/pages/item']);
});

test('an unsafe request the upstream refused (409) invalidates nothing; nor does one for another path', async (t) => {
  const { gw, gets } = await itemStore(t);
  await request(gw.url, { path: '/pages/locked' });
  assert.equal((await request(gw.url, { method: 'POST', path: '/pages/locked', body: 'x' })).status, 409);
  await request(gw.url, { method: 'POST', path: '/pages/other', body: 'x' });
  assert.match(String((await request(gw.url, { path: '/pages/locked' })).headers['cache-status']), /; hit; /);
  assert.deepEqual(gets, ['/pages/locked']);
});

test("with cache.dir, the answer's file goes too: another worker does not read the old answer back", async (t) => {
  const dir = tempDir('candor-cache-');
  const { gw, gets } = await itemStore(t, `{ dir: ${dir} }`);
  await request(gw.url, { path: '/pages/item' });
  const files = () => readdirSync(join(dir, 'pages')).filter((name) => /^[0-9a-f]{64}$/.test(name));
  await waitUntil('the answer written to the directory', () => files().length === 1);
  assert.equal((await request(gw.url, { method: 'PATCH', path: '/pages/item', body: 'v3' })).status, 200);
  assert.deepEqual(files(), []);
  assert.equal((await request(gw.url, { path: '/pages/item' })).text, 'v3');
  assert.equal(gets.length, 2);
});
