/**
 * A reload and one cache for every worker (`candor serve --workers 2`, no `cache.dir`): a route
 * that keeps its name and cache settings keeps its stored answers; one whose cache settings
 * changed starts empty, and one no longer in the config lets its answers go, as with one worker.
 * Their files in the workers' shared folder go with them: otherwise the next miss in memory read
 * the old answer back (kept through a change of settings), and a route dropped by a reload held
 * its part of a container's `/dev/shm` until the gateway stopped.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { startServe, storedFiles, workersCacheDir } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { waitUntil } from '../helpers/wait.ts';

function configText(port: number, routes: string): string {
  return `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
${routes}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
`;
}

const pages = (cache: string) => `  - name: pages
    match: { path: /pages }
    upstream: app
    cache: ${cache}
`;
const docs = `  - name: docs
    match: { path: /docs }
    upstream: app
    cache: {}
`;

test('a reload that keeps the cache settings keeps the stored answers in every worker; one that changes them empties them', async (t) => {
  let fetches = 0;
  let version = 1;
  const origin = http.createServer((req, res) => {
    fetches++;
    res.writeHead(200, { 'cache-control': 'max-age=600' }).end(`${req.url} v${version}`);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => origin.close());
  const port = (origin.address() as AddressInfo).port;
  const path = join(tempDir('candor-cache-reload-'), 'candor.yaml');
  writeFileSync(path, configText(port, pages('{ max_entry: 512KiB }')));
  const serve = await startServe(path, 2);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  // Fresh connections, one at a time, go to the workers in turn: both see the page.
  for (let i = 0; i < 6; i++) assert.equal((await request(base, { path: '/pages/a' })).text, '/pages/a v1');
  assert.equal(fetches, 1);

  serve.child.kill('SIGHUP');
  await serve.waitForLines('config reloaded', 1, 15_000);
  for (let i = 0; i < 6; i++) assert.equal((await request(base, { path: '/pages/a' })).text, '/pages/a v1');
  assert.equal(fetches, 1, 'the same settings: kept');

  version = 2;
  writeFileSync(path, configText(port, pages('{ max_entry: 256KiB }')));
  serve.child.kill('SIGHUP');
  await serve.waitForLines('config reloaded', 2, 15_000);
  for (let i = 0; i < 6; i++) {
    const res = await request(base, { path: '/pages/a' });
    assert.equal(res.text, '/pages/a v2', `request ${i} after the change (${res.headers['cache-status']})`);
  }
  // Once, then shared; twice when a worker's purge at its reload removed the file the other,
  // reloaded before it, had written meanwhile (a miss, never the old page).
  assert.ok(fetches >= 2 && fetches <= 3, `fetched again, then kept: ${fetches}`);
});

test("a route a reload removes lets its answers go from the workers' folder", async (t) => {
  const origin = http.createServer((req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' }).end(`${req.url}`);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => origin.close());
  const port = (origin.address() as AddressInfo).port;
  const path = join(tempDir('candor-cache-reload-'), 'candor.yaml');
  writeFileSync(path, configText(port, pages('{}') + docs));
  const serve = await startServe(path, 2);
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  const dir = workersCacheDir(serve);
  for (let i = 0; i < 4; i++) {
    assert.equal((await request(base, { path: `/pages/${i}` })).status, 200);
    assert.equal((await request(base, { path: `/docs/${i}` })).status, 200);
  }
  await waitUntil(
    'the answers written',
    () => storedFiles(dir, 'pages').length === 4 && storedFiles(dir, 'docs').length === 4,
  );

  writeFileSync(path, configText(port, docs));
  serve.child.kill('SIGHUP');
  await serve.waitForLines('config reloaded', 1, 15_000);
  await waitUntil("the removed route's files gone", () => storedFiles(dir, 'pages').length === 0);
  assert.equal(storedFiles(dir, 'docs').length, 4, "the other route's stay");
});
