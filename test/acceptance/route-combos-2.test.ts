/**
 * Features combined on one route, the second half (the first: route-combos.test.ts): access
 * rules, a canary, plugins, gRPC and auth beside the cache, compression, header rules and limits,
 * through a real gateway and real upstreams, HTTP/1.1 and HTTP/2 where the combination reads either.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { keyPoint } from '../../src/proxy/select/split.ts';
import type { Plugin } from '../../src/proxy/stages/plugin-api.ts';
import { h2Get, request } from '../helpers/http-client.ts';
import { listenOnLoopback } from '../helpers/loopback-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';
import { waitUntil } from '../helpers/wait.ts';

/** An upstream whose answer the test changes as it goes; `seen` counts what reached it. */
async function origin(initial: http.RequestListener) {
  let handler = initial;
  const seen: http.IncomingHttpHeaders[] = [];
  const server = await listenOnLoopback((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  return {
    ...server,
    seen,
    answer(next: http.RequestListener) {
      handler = next;
    },
  };
}

const cached =
  (body: string): http.RequestListener =>
  (_req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-type': 'text/plain' });
    res.end(body);
  };

/** One h2 request's head, body and trailers, on a session of its own. */
function h2Call(url: string, fields: http2.OutgoingHttpHeaders, body?: Buffer) {
  return new Promise<{ head: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }>(
    (resolve, reject) => {
      const session = http2.connect(url);
      session.on('error', reject);
      const stream = session.request(fields);
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        head = h;
      });
      stream.on('trailers', (t) => {
        trailers = t;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('close', () => {
        session.close();
        resolve({ head, body: Buffer.concat(chunks), trailers });
      });
      stream.end(body);
    },
  );
}

test('deny on a cached route: a denied client never gets the stored answer, its 403 has no Cache-Status and stores nothing', async () => {
  const app = await origin(cached('page'));
  const gw = await startTestGateway(
    `name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - { name: pages, match: { path: / }, upstream: app, cache: {}, deny: [10.66.0.0/16] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
  );
  try {
    const ok = { 'x-forwarded-for': '10.1.0.1' };
    const bad = { 'x-forwarded-for': '10.66.0.9' };
    const denied0 = await request(gw.url, { path: '/p', headers: bad });
    assert.equal(denied0.status, 403);
    assert.equal(denied0.headers['cache-status'], undefined);
    assert.equal(app.seen.length, 0);
    const miss = await request(gw.url, { path: '/p', headers: ok });
    assert.equal(miss.headers['cache-status'], 'edge-1; fwd=uri-miss', 'the 403 was stored');
    const denied = await request(gw.url, { path: '/p', headers: bad });
    assert.equal(denied.status, 403);
    assert.notEqual(denied.text, 'page');
    assert.equal(denied.headers['cache-status'], undefined);
    const h2denied = await h2Get(gw.url, '/p', bad);
    assert.equal(h2denied.status, 403);
    assert.equal(h2denied.headers['cache-status'], undefined);
    const hit = await h2Get(gw.url, '/p', ok);
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit/);
    assert.equal(hit.text, 'page');
    assert.equal(app.seen.length, 1);
  } finally {
    await gw.close();
    await app.close();
  }
});

test("a canary on a cached route: a hit is its own side's stored answer, and the canary's window counts no hit as an answer", async () => {
  const stable = await origin(cached('stable'));
  const next = await origin(cached('next'));
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: / }
    upstream: stable
    cache: {}
    hash_key: header:X-User
    canary: { upstream: next, steps: [50], step_interval: 1h, check_interval: 1h }
upstreams:
  stable: { targets: [{ url: ${stable.url} }] }
  next: { targets: [{ url: ${next.url} }] }
`);
  try {
    const onCanary: string[] = [];
    const onStable: string[] = [];
    for (let n = 0; onCanary.length < 3 || onStable.length < 3; n++)
      (keyPoint(`u${n}`) < 0.5 ? onCanary : onStable).push(`u${n}`);
    const window = gw.gateway.runtime().splits.get('api')?.window;
    assert.ok(window);
    window.take();
    for (const user of onCanary) {
      const r = await request(gw.url, { path: '/page', headers: { 'x-user': user } });
      assert.equal(r.text, 'next');
    }
    for (const user of onStable) {
      const r = await request(gw.url, { path: '/page', headers: { 'x-user': user } });
      assert.equal(r.text, 'stable');
    }
    assert.equal(next.seen.length, 1);
    assert.equal(stable.seen.length, 1);
    const counts = window.take();
    assert.equal(counts.canary.requests, 1, 'the canary is judged on its own answers, not the stored ones');
    assert.equal(counts.baseline.requests, 1);
  } finally {
    await gw.close();
    await stable.close();
    await next.close();
  }
});

test("a plugin's own answer beside compression and response header rules: it gets the rules' fields, and goes as the plugin wrote it", async () => {
  const app = await origin(cached('page'));
  const big = 'own answer '.repeat(300);
  const own: Plugin = () => ({
    onRequest(req) {
      if (req.path.startsWith('/own'))
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: big };
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  own: { module: /nonexistent/own.ts }
routes:
  - name: pages
    match: { path: / }
    upstream: app
    plugins: [own]
    compression: { encodings: [gzip] }
    response_headers: { set: { X-Frame-Options: DENY }, remove: [Server] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
    { plugins: { own } },
  );
  try {
    const r = await request(gw.url, { path: '/own', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.text, big);
    assert.equal(r.headers['content-encoding'], undefined);
    const h2 = await h2Get(gw.url, '/own', { 'accept-encoding': 'gzip' });
    assert.equal(h2.headers['x-frame-options'], 'DENY');
    assert.equal(h2.text, big);
    assert.equal(app.seen.length, 0);
  } finally {
    await gw.close();
    await app.close();
  }
});

test('a plugin that throws in onRequest beside stale-if-error: the named 500, never the stored answer', async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=60', etag: '"v1"' });
    res.end('stored');
  });
  let broken = false;
  const flaky: Plugin = () => ({
    onRequest() {
      if (broken) throw new Error('bug');
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  flaky: { module: /nonexistent/flaky.ts }
routes:
  - { name: pages, match: { path: / }, upstream: app, plugins: [flaky], cache: {} }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    '',
    { plugins: { flaky } },
  );
  try {
    assert.equal((await request(gw.url, { path: '/p' })).text, 'stored');
    broken = true;
    const r = await request(gw.url, { path: '/p' });
    assert.equal(r.status, 500);
    assert.match(
      String(r.headers['proxy-status']),
      /proxy_internal_error; details="plugin:flaky threw in onRequest"/,
    );
    assert.equal(r.headers['cache-status'], undefined);
  } finally {
    await gw.close();
    await app.close();
  }
});

test("a plugin that throws in onResponse on the upstream's 500 beside stale-if-error: the named 500 with the status it failed on", async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=60', etag: '"v1"' });
    res.end('stored');
  });
  const choke: Plugin = () => ({
    onResponse(response) {
      if (response.status >= 500) throw new Error('chokes on 5xx');
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  choke: { module: /nonexistent/choke.ts }
routes:
  - { name: pages, match: { path: / }, upstream: app, plugins: [choke], cache: {} }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    '',
    { plugins: { choke } },
  );
  try {
    assert.equal((await request(gw.url, { path: '/p' })).text, 'stored');
    app.answer((_req, res) => {
      res.writeHead(500);
      res.end('broken');
    });
    const r = await request(gw.url, { path: '/p' });
    // docs/plugins.md: a bug is a named 500 that hides not the upstream's answer it failed on.
    assert.equal(r.status, 500);
    assert.equal(
      r.headers['proxy-status'],
      'edge-1; error=proxy_internal_error; received-status=500; details="plugin:choke threw in onResponse"; next-hop="app"',
    );
    assert.equal(r.headers['cache-status'], undefined);
  } finally {
    await gw.close();
    await app.close();
  }
});

test('gRPC through a route with deny, a rate limit and header rules: each refusal a Trailers-Only answer with its grpc-status, the rules applied', async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/grpc' });
    res.addTrailers({ 'grpc-status': '0' });
    res.end();
  });
  const gw = await startTestGateway(
    `name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
  - name: rpc
    match: { path: / }
    upstream: app
    deny: [10.66.0.0/16]
    rate_limit: { rate: 0.01, burst: 1 }
    response_headers: { set: { X-Edge: one, Cache-Control: max-age=60 } }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
  );
  const call = (xff: string) =>
    h2Call(
      gw.url,
      {
        ':method': 'POST',
        ':path': '/pkg.Svc/Get',
        'content-type': 'application/grpc',
        te: 'trailers',
        'x-forwarded-for': xff,
      },
      Buffer.from([0, 0, 0, 0, 0]),
    );
  try {
    const denied = await call('10.66.0.9');
    assert.equal(denied.head[':status'], 200);
    assert.equal(denied.head['grpc-status'], '7', 'PERMISSION_DENIED');
    assert.match(String(denied.head['proxy-status']), /^edge-1; error=http_request_denied;/);
    assert.equal(denied.head['content-type'], 'application/grpc');
    assert.equal(denied.head['x-edge'], 'one', "the route's response rules reach its gRPC refusal");
    assert.equal(denied.head['cache-control'], 'no-store', 'a refusal is never kept, whatever a rule says');
    assert.equal(denied.body.length, 0);
    const first = await call('10.1.0.1');
    assert.equal(first.trailers['grpc-status'], '0');
    assert.equal(first.head['x-edge'], 'one');
    const limited = await call('10.1.0.1');
    assert.equal(limited.head[':status'], 200);
    assert.equal(limited.head['grpc-status'], '8', 'RESOURCE_EXHAUSTED');
    assert.match(String(limited.head['proxy-status']), /^edge-1; error=http_request_denied;/);
    assert.ok(Number(limited.head['grpc-retry-pushback-ms']) > 0);
    assert.equal(limited.head['x-edge'], 'one');
    assert.equal(limited.head['cache-control'], 'no-store');
    assert.equal(app.seen.length, 1);
  } finally {
    await gw.close();
    await app.close();
  }
});

test("rate_limit keyed on the user beside Basic auth: refused sign-ins, a wrong password naming alice among them, never spend alice's budget", async () => {
  const dir = tempDir('candor-combos-');
  const users = join(dir, 'users.htpasswd');
  writeFileSync(users, `alice:${bcrypt.hashSync('alice pass', 4)}\n`);
  const app = await origin(cached('page'));
  const gw = await startTestGateway(`routes:
  - name: api
    match: { path: / }
    upstream: app
    auth: { basic: { users_file: ${users} } }
    rate_limit: { rate: 0.01, burst: 2, key: identity }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`);
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  try {
    assert.equal(
      (await request(gw.url, { headers: { authorization: basic('alice', 'alice pass') } })).status,
      200,
    );
    for (let n = 0; n < 3; n++) {
      assert.equal((await request(gw.url)).status, 401);
      assert.equal(
        (await request(gw.url, { headers: { authorization: basic('alice', 'guess') } })).status,
        401,
      );
    }
    assert.equal(
      (await request(gw.url, { headers: { authorization: basic('alice', 'alice pass') } })).status,
      200,
    );
    assert.equal(
      (await request(gw.url, { headers: { authorization: basic('alice', 'alice pass') } })).status,
      429,
    );
  } finally {
    await gw.close();
    await app.close();
  }
});

test('limits.per_client.requests keyed on the user beside a cache hit: the user past it gets the 429, never the stored answer; another user the hit', async () => {
  const dir = tempDir('candor-combos-');
  const users = join(dir, 'users.htpasswd');
  writeFileSync(users, `alice:${bcrypt.hashSync('alice pass', 4)}\nbob:${bcrypt.hashSync('bob pass', 4)}\n`);
  let release = () => {};
  const app = await origin((req, res) => {
    if (req.url === '/slow') release = () => res.end('slow');
    else cached('page')(req, res);
  });
  const gw = await startTestGateway(
    `name: edge-1
limits:
  per_client: { requests: 1, key: identity }
routes:
  - { name: api, match: { path: / }, upstream: app, cache: {}, auth: { basic: { users_file: ${users} } } }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
  );
  const basic = (user: string) => `Basic ${Buffer.from(`${user}:${user} pass`).toString('base64')}`;
  try {
    assert.equal(
      (await request(gw.url, { path: '/p', headers: { authorization: basic('bob') } })).text,
      'page',
    );
    const slow = request(gw.url, { path: '/slow', headers: { authorization: basic('alice') } });
    await waitUntil('the slow request at the upstream', () => app.seen.length === 2);
    for (const r of [
      await request(gw.url, { path: '/p', headers: { authorization: basic('alice') } }),
      await h2Get(gw.url, '/p', { authorization: basic('alice') }),
    ]) {
      assert.equal(r.status, 429);
      assert.equal(r.headers['cache-status'], undefined);
      assert.match(String(r.headers['proxy-status']), /this user holds 1 request in flight already/);
    }
    const hit = await request(gw.url, { path: '/p', headers: { authorization: basic('bob') } });
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit/);
    release();
    assert.equal((await slow).text, 'slow');
  } finally {
    release();
    await gw.close();
    await app.close();
  }
});

test("a slow reader's spooled answer outlives total_includes_body once the upstream sent it all: whole, no failure logged, the spool file gone", async () => {
  const big = Buffer.alloc(8 * 1024 * 1024, 'b');
  let sent = false;
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'content-length': big.length });
    res.on('finish', () => {
      sent = true;
    });
    res.end(big);
  });
  const spool = tempDir('candor-combos-spool-');
  const gw = await startTestGateway(`limits:
  spool_dir: ${spool}
routes:
  - { match: { path: / }, upstream: app, limits: { buffer: 64KiB } }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
    retries: { attempts: 2 }
    timeouts: { response: 300ms, total: 300ms, total_includes_body: true }
`);
  const socket = net.connect(gw.port, '127.0.0.1');
  try {
    socket.pause();
    socket.write('GET /big HTTP/1.1\r\nHost: a\r\nX-Request-Id: slow\r\nConnection: close\r\n\r\n');
    await waitUntil('the upstream done', () => sent);
    await sleep(600); // past the total, the client still reading nothing
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.resume();
    await once(socket, 'close');
    const whole = Buffer.concat(chunks);
    assert.equal(whole.length - (whole.indexOf('\r\n\r\n') + 4), big.length);
    const line = await gw.logFor('slow');
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined, JSON.stringify(line));
    assert.deepEqual(
      readdirSync(spool, { recursive: true }).filter((f) => String(f).includes('spool-')),
      [],
    );
    assert.equal(app.seen.length, 1);
  } finally {
    socket.destroy();
    await gw.close();
    await app.close();
  }
});
