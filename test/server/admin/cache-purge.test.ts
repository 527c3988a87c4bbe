/**
 * DELETE /cache on the admin API of a real `candor serve`: every route's stored answers, one
 * route's, or one key's; a route without a cache or not in the config is a 400 naming the field.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { type MoodyOrigin, startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'cache-purge-token-abcdefghijkl';
const dir = tempDir('candor-purge-');
let origin: MoodyOrigin;
let serve: ServeProcess;
let adminPort: number;
let base: string;
let configPath: string;
const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** `candor ARGS` as an operator runs it: exit code and what it printed. */
const candor = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr }),
    ),
  );

before(async () => {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  origin = await startMoodyOrigin({ status: 200, fields: ['Cache-Control', 'max-age=600'], body: 'page' });
  adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  configPath = path;
  writeFileSync(
    path,
    `name: purge-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
  - name: plain
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${origin.url}
`,
  );
  serve = await startServe(path, 1, { admin: true });
  base = `http://127.0.0.1:${serve.port}`;
});

after(async () => {
  await serve?.stop();
  await origin?.stop();
});

const cacheStatus = async (path: string) => String((await request(base, { path })).headers['cache-status']);
const purge = (query: string) => adminCall(adminPort, 'DELETE', `/cache${query}`, { token: TOKEN });

test('DELETE /cache drops one key, then every stored answer; the next request is a miss', async () => {
  for (const path of ['/pages/a', '/pages/b']) {
    assert.equal(await cacheStatus(path), 'purge-edge; fwd=uri-miss');
    assert.match(await cacheStatus(path), /^purge-edge; hit; /);
  }
  const one = await purge(`?route=pages&key=${encodeURIComponent(`127.0.0.1:${serve.port} /pages/a`)}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.removed, 1);
  assert.deepEqual(one.body.purged, { route: 'pages', key: `127.0.0.1:${serve.port} /pages/a` });
  assert.equal(await cacheStatus('/pages/a'), 'purge-edge; fwd=uri-miss');
  assert.match(await cacheStatus('/pages/b'), /^purge-edge; hit; /);

  const all = await purge('');
  assert.equal(all.status, 200);
  assert.equal(all.body.removed, 2);
  assert.equal(await cacheStatus('/pages/b'), 'purge-edge; fwd=uri-miss');
  await serve.waitForLines('admin purge', 2);
});

test('DELETE /cache with a key that starts with "/" drops that path (and those under it) on every host', async () => {
  await purge('');
  for (const host of ['a.example', 'b.example']) {
    await request(base, { path: '/pages/doc/1', headers: { host } });
    await request(base, { path: '/pages/other', headers: { host } });
  }
  const byPath = await purge(`?route=pages&key=${encodeURIComponent('/pages/doc')}`);
  assert.equal(byPath.status, 200);
  assert.equal(byPath.body.removed, 2);
  for (const host of ['a.example', 'b.example']) {
    const again = await request(base, { path: '/pages/doc/1', headers: { host } });
    assert.equal(again.headers['cache-status'], 'purge-edge; fwd=uri-miss');
    const kept = await request(base, { path: '/pages/other', headers: { host } });
    assert.match(String(kept.headers['cache-status']), /^purge-edge; hit; /);
  }
});

test('DELETE /cache names what it cannot purge: no such route, a route without a cache, a key without a route, no token', async () => {
  const unknown = await purge('?route=nope');
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.field, 'route');
  assert.equal(unknown.body.detail, 'route: no route named "nope"');
  const plain = await purge('?route=plain');
  assert.equal(plain.status, 400);
  assert.equal(plain.body.detail, 'route: the route "plain" has no cache');
  const keyOnly = await purge('?key=x');
  assert.equal(keyOnly.status, 400);
  assert.equal(keyOnly.body.field, 'key');
  assert.equal((await adminCall(adminPort, 'DELETE', '/cache')).status, 401);
});

test('DELETE /cache with a selection it does not read (a misspelt parameter, a JSON body) is a 400 that purges nothing, never a purge of every route', async () => {
  await request(base, { path: '/pages/kept' });
  assert.match(await cacheStatus('/pages/kept'), /^purge-edge; hit; /);
  const misspelt = await purge('?rout=pages');
  assert.equal(misspelt.status, 400);
  assert.equal(misspelt.body.field, 'rout');
  assert.equal(
    misspelt.body.detail,
    'rout: DELETE /cache reads route, key and wait alone; a purge of every route names none',
  );
  // One route per purge: a second route= would be dropped unread, its answers left stored.
  const twice = await purge('?route=pages&route=plain');
  assert.equal(twice.status, 400);
  assert.equal(twice.body.field, 'route');
  assert.equal(
    twice.body.detail,
    'route: given 2 times; a purge names one route (and one key): purge each in turn',
  );
  const body = await adminCall(adminPort, 'DELETE', '/cache', { token: TOKEN, body: { route: 'pages' } });
  assert.equal(body.status, 400);
  assert.equal(body.body.field, '(body)');
  assert.equal(
    body.body.detail,
    '(body): DELETE /cache reads its selection from the query (?route=NAME&key=PREFIX), not a body',
  );
  assert.match(await cacheStatus('/pages/kept'), /^purge-edge; hit; /, 'nothing was purged');
});

test('candor purge --config FILE --route NAME: the same through the command line', async () => {
  await purge('');
  await request(base, { path: '/pages/cli' });
  assert.match(await cacheStatus('/pages/cli'), /^purge-edge; hit; /);
  const run = await candor(['purge', '--config', configPath, '--route', 'pages']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'purged 1 stored answer(s) from route "pages"\n');
  assert.equal(await cacheStatus('/pages/cli'), 'purge-edge; fwd=uri-miss');
  const wrong = await candor(['purge', '--config', configPath, '--route', 'plain']);
  assert.equal(wrong.code, 64);
  assert.equal(wrong.stderr, 'candor: the admin API answered 400: route: the route "plain" has no cache\n');
});
