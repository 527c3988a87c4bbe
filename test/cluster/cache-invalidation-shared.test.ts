/**
 * An unsafe request's invalidation (RFC 9111 §4.4) reaches every worker: under `candor serve
 * --workers 2`, once a PUT through one worker changed a resource, the other worker does not
 * give its stored copy of the old answer any more (the news goes worker → primary → worker).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { freePort } from '../helpers/wait.ts';

test('a PUT through one worker drops the stored answer in every worker: none gives the old one again', async (t) => {
  let version = 1;
  let gets = 0;
  const origin = http.createServer((req, res) => {
    if (req.method === 'PUT') version++;
    else gets++;
    req.resume();
    req.on('end', () => {
      if (req.method === 'PUT') return res.writeHead(204).end();
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end(`v${version}`);
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => origin.close());
  const dir = tempDir('candor-cache-shared-');
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    # Each worker its own copy: what this test is about.
    cache: { workers_share: false }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(origin.address() as AddressInfo).port}
`,
  );
  const serve = await startServe(path, 2);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  const page = { path: '/pages/doc', headers: { host: 'pages.test' } };
  // Fresh connections, one at a time, go to the workers in turn: until each has fetched (and stored) it.
  for (let i = 0; i < 20 && gets < 2; i++) assert.equal((await request(base, page)).text, 'v1');
  assert.equal(gets, 2, 'each worker stored its own copy');

  const put = await request(base, { ...page, method: 'PUT', body: 'new' });
  assert.equal(put.status, 204);
  for (let i = 0; i < 6; i++) {
    const res = await request(base, page);
    assert.equal(res.text, 'v2', `request ${i} after the PUT (${res.headers['cache-status']})`);
  }
  assert.equal(gets, 4, 'each worker fetched the new answer once, then had it stored');
});

test('a stale answer one worker learns was deleted (a 404 no-store to its revalidation) stands in for a failure in no worker', async (t) => {
  let gone = false;
  let gets = 0;
  const origin = http.createServer((_req, res) => {
    gets++;
    if (gone) return res.writeHead(404, { 'cache-control': 'no-store' }).end('no such page');
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=600', etag: '"v1"' }).end('v1');
  });
  // Closed mid-test, each request after is the gateway's 502: on a port no other test file's
  // listen(0) is given meanwhile (a server of its there would answer instead).
  const originPort = await freePort();
  await new Promise<void>((resolve) => origin.listen(originPort, '127.0.0.1', resolve));
  t.after(() => origin.close());
  const dir = tempDir('candor-cache-superseded-');
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    # Each worker its own copy: what this test is about.
    cache: { workers_share: false }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${originPort}
`,
  );
  const serve = await startServe(path, 2);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  const page = { path: '/pages/doc', headers: { host: 'pages.test' } };
  // Fresh connections go to the workers in turn: until each has stored its own (stale) copy.
  for (let i = 0; i < 20 && gets < 2; i++) assert.equal((await request(base, page)).text, 'v1');
  assert.equal(gets, 2, 'each worker stored its own copy');

  gone = true;
  assert.equal((await request(base, page)).status, 404);
  await new Promise<void>((resolve) => origin.close(() => resolve()));
  origin.closeAllConnections();
  for (let i = 0; i < 6; i++) {
    const res = await request(base, page);
    assert.equal(res.status, 502, `request ${i} after the 404 (${res.headers['cache-status']}): ${res.text}`);
  }
});
