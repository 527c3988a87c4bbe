/**
 * route_defaults through a real `candor serve` (issue 58, item 4): the HSTS header written once
 * in route_defaults is on every route's answer, the upstream's and the gateway's own 502 for
 * an upstream that refuses its connections alike, and a route with response_headers of its own
 * has those instead (its own field replaces the default whole).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const HSTS = 'max-age=31536000; includeSubDomains';

test('a default HSTS header is on every route answer, a 502 too, and a route of its own rules has those instead; candor check lists them', {
  timeout: 60_000,
}, async () => {
  const dir = tempDir('candor-route-defaults-');
  const origin = await listenOnLoopback((_req, res) => res.end('from origin'));
  // Nothing listens here: every connection is refused, and the gateway answers 502 itself.
  const closed = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
route_defaults:
  response_headers:
    set: { Strict-Transport-Security: "${HSTS}" }
routes:
  - name: app
    match: { path: /app }
    upstream: app
  - name: down
    match: { path: /down }
    upstream: down
  - name: own
    match: { path: /own }
    upstream: app
    response_headers: { set: { X-Own: "yes" } }
upstreams:
  app:
    targets: [{ url: ${origin.url} }]
  down:
    retries: { attempts: 1 }
    targets: [{ url: "http://127.0.0.1:${closed}" }]
`,
  );
  let serve: ServeProcess | undefined;
  try {
    // `candor check` says which route took which default (own: none, it writes its own rules).
    const check = spawnSync(process.execPath, [BIN, 'check', path], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(check.status, 0, check.stderr);
    assert.match(
      check.stdout,
      /\nroute defaults taken:\n {2}routes\[0\] "app": response_headers\n {2}routes\[1\] "down": response_headers\n$/,
    );
    serve = await startServe(path, 1);
    const base = `http://127.0.0.1:${serve.port}`;
    const app = await request(base, { path: '/app/x' });
    assert.equal(app.status, 200);
    assert.equal(app.text, 'from origin');
    assert.equal(app.headers['strict-transport-security'], HSTS);
    const down = await request(base, { path: '/down/x' });
    assert.equal(down.status, 502);
    assert.equal(down.headers['strict-transport-security'], HSTS);
    assert.match(String(down.headers['proxy-status']), /connection_refused/);
    const own = await request(base, { path: '/own/x' });
    assert.equal(own.status, 200);
    assert.equal(own.headers['x-own'], 'yes');
    assert.equal(own.headers['strict-transport-security'], undefined);
  } finally {
    await serve?.stop();
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('routes of an included file are served with the defaults; a reload reads the includes again, and refuses one whose problem it names at its file and line', {
  timeout: 60_000,
}, async () => {
  const dir = tempDir('candor-includes-serve-');
  const origin = await listenOnLoopback((req, res) => res.end(`origin saw ${req.url}`));
  mkdirSync(join(dir, 'conf.d'));
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
include: [conf.d/*.yaml]
route_defaults:
  response_headers: { set: { X-Frame-Options: DENY } }
routes:
  - match: { path: /main }
    upstream: app
upstreams:
  app: { targets: [{ url: ${origin.url} }] }
`,
  );
  writeFileSync(join(dir, 'conf.d/a.yaml'), 'routes:\n  - { match: { path: /a }, upstream: app }\n');
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(path, 1);
    const base = `http://127.0.0.1:${serve.port}`;
    const a = await request(base, { path: '/a/1' });
    assert.equal(a.status, 200);
    assert.equal(a.text, 'origin saw /a/1');
    assert.equal(a.headers['x-frame-options'], 'DENY');
    assert.equal((await request(base, { path: '/b/1' })).status, 404);

    writeFileSync(join(dir, 'conf.d/b.yaml'), 'routes:\n  - { match: { path: /b }, upstream: app }\n');
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1, 20_000);
    const b = await request(base, { path: '/b/1' });
    assert.equal(b.status, 200);
    assert.equal(b.headers['x-frame-options'], 'DENY');

    writeFileSync(
      join(dir, 'conf.d/c.yaml'),
      '# a typo\nroutes:\n  - { match: { path: /c }, upstream: ap }\n',
    );
    serve.child.kill('SIGHUP');
    await serve.waitForLines('reload refused: the config is invalid; the running config stays', 1, 20_000);
    const refused = serve.lines.find(
      (l) => l.msg === 'reload refused: the config is invalid; the running config stays',
    );
    const [problem] = (refused?.problems ?? []) as { file: string; line: number; path: string }[];
    assert.deepEqual(
      { file: problem.file, line: problem.line, path: problem.path },
      { file: join(dir, 'conf.d/c.yaml'), line: 3, path: 'routes[0].upstream' },
    );
    assert.equal((await request(base, { path: '/b/2' })).status, 200);
  } finally {
    await serve?.stop();
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('candor check names a route of an included file as its file writes it, in the list of the defaults each route took', () => {
  // The checked document numbers the included routes after the main file's: conf.d/api.yaml's
  // first route was listed as `routes[1]`, a route the main file does not have, where every
  // problem and warning of it says `conf.d/api.yaml … routes[0]`.
  const dir = tempDir('candor-route-defaults-include-');
  mkdirSync(join(dir, 'conf.d'));
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
include: [conf.d/*.yaml]
route_defaults:
  response_headers:
    set: { X-Content-Type-Options: nosniff }
  timeouts: { connect: 1s }
routes:
  - name: site
    upstream: site
upstreams:
  site: { targets: [{ url: "http://127.0.0.1:3000" }] }
`,
  );
  writeFileSync(
    join(dir, 'conf.d', 'api.yaml'),
    `routes:
  - name: api
    match: { path: /api }
    upstream: api
    timeouts: { response: 5s }
  - match: { path: /assets }
    static: { root: ${dir} }
upstreams:
  api: { targets: [{ url: "http://127.0.0.1:3001" }] }
`,
  );
  try {
    // Named as the main file is given (here relative), as a problem in it would be.
    const check = spawnSync(process.execPath, [BIN, 'check', 'candor.yaml'], {
      encoding: 'utf8',
      timeout: 20_000,
      cwd: dir,
    });
    assert.equal(check.status, 0, check.stderr);
    assert.match(
      check.stdout,
      /\nroute defaults taken:\n {2}routes\[0\] "site": response_headers, timeouts\n {2}routes\[0\] "api" \(conf\.d\/api\.yaml\): response_headers, timeouts\.connect\n {2}routes\[1\] "\/assets" \(conf\.d\/api\.yaml\): response_headers\n$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A route could not turn off a default (`cache: null` is refused): an API that must never be
// cached, a stream that must not be compressed, took the default's all the same.
test('a route writing cache: false and compression: false takes neither default: its answers are fetched each time and sent as they are, GET /config shows none, a reload turns it back on', {
  timeout: 60_000,
}, async () => {
  const dir = tempDir('candor-route-defaults-off-');
  let fetched = 0;
  const origin = await listenOnLoopback((_req, res) => {
    fetched++;
    res.setHeader('content-type', 'text/plain');
    res.setHeader('cache-control', 'max-age=60');
    res.end('a'.repeat(4096));
  });
  const adminPort = await freePort();
  const token = 'route-defaults-off-token-0123456789';
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  const text = (off: string) => `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: token }
route_defaults:
  compression: { min_size: 1 }
  cache: {}
routes:
  - name: cached
    match: { path: /cached }
    upstream: app
  - name: live
    match: { path: /live }
    upstream: app
${off}upstreams:
  app: { targets: [{ url: ${origin.url} }] }
`;
  writeFileSync(path, text('    cache: false\n    compression: false\n'));
  let serve: ServeProcess | undefined;
  try {
    const check = spawnSync(process.execPath, [BIN, 'check', path], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stderr, '');
    assert.match(
      check.stdout,
      /\nroute defaults taken:\n {2}routes\[0\] "cached": compression, cache\n {2}routes\[1\] "live": no compression \(compression: false\), no cache \(cache: false\)\n$/,
    );
    serve = await startServe(path, 1, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    const get = (route: string) => request(base, { path: route, headers: { 'accept-encoding': 'gzip' } });
    const first = await get('/cached/x');
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.equal((await get('/cached/x')).status, 200);
    assert.equal(fetched, 1, 'the default cache answered the second');
    for (const _ of [1, 2]) {
      const live = await get('/live/x');
      assert.equal(live.status, 200);
      assert.equal(live.headers['content-encoding'], undefined);
      assert.equal(live.text, 'a'.repeat(4096));
    }
    assert.equal(fetched, 3, 'each answer of the route without a cache was fetched');
    const routes = async () => {
      const view = await adminCall(adminPort, 'GET', '/config', { token });
      assert.equal(view.status, 200);
      return (view.body.config as { routes: Record<string, unknown>[] }).routes;
    };
    const [cached, live] = await routes();
    assert.notEqual(cached.cache, undefined);
    assert.notEqual(cached.compression, undefined);
    assert.equal('cache' in live, false);
    assert.equal('compression' in live, false);

    // Without its false, the route takes the defaults again at the reload.
    writeFileSync(path, text(''));
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1, 20_000);
    const [, back] = await routes();
    assert.notEqual(back.cache, undefined);
    assert.equal((await get('/live/y')).headers['content-encoding'], 'gzip');
  } finally {
    await serve?.stop();
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
