/**
 * Features combined on one route, where their order matters (docs/request-lifecycle.md's stages):
 * a real gateway, real upstreams, HTTP/1.1 and HTTP/2 where the combination reads either.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { Plugin } from '../../src/proxy/stages/plugin-api.ts';
import { h2Get, request } from '../helpers/http-client.ts';
import { listenOnLoopback } from '../helpers/loopback-server.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

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

test("a plugin's onResponse takes a field out: a stored answer given again never has it", async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=60', 'x-internal-token': 's3cret' });
    res.end('page');
  });
  const strip: Plugin = () => ({
    onResponse(response) {
      response.headers.delete('x-internal-token');
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  strip: { module: /nonexistent/strip.ts }
routes:
  - { name: pages, match: { path: / }, upstream: app, plugins: [strip], cache: {} }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
    { plugins: { strip } },
  );
  try {
    const first = await request(gw.url, { path: '/p' });
    assert.equal(first.headers['x-internal-token'], undefined);
    const hit = await request(gw.url, { path: '/p' });
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit/);
    assert.equal(hit.headers['x-internal-token'], undefined, 'the hit carries what the plugin took out');
    const h2 = await h2Get(gw.url, '/p', {});
    assert.match(String(h2.headers['cache-status']), /^edge-1; hit/);
    assert.equal(h2.headers['x-internal-token'], undefined);
    assert.equal(app.seen.length, 1);
  } finally {
    await gw.close();
    await app.close();
  }
});

test("a plugin's onResponse takes a field out of a revalidation's 304 too: the stored answer it freshens never gets it", async () => {
  const app = await origin((req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { 'cache-control': 'max-age=60', etag: '"v1"', 'x-internal-token': 's3cret' });
      return res.end();
    }
    res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"v1"' });
    res.end('page');
  });
  const strip: Plugin = () => ({
    onResponse(response) {
      response.headers.delete('x-internal-token');
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  strip: { module: /nonexistent/strip.ts }
routes:
  - { name: pages, match: { path: / }, upstream: app, plugins: [strip], cache: {} }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    '',
    { plugins: { strip } },
  );
  try {
    await request(gw.url, { path: '/p' });
    const revalidated = await request(gw.url, { path: '/p' });
    assert.equal(app.seen[1]?.['if-none-match'], '"v1"');
    assert.equal(revalidated.text, 'page');
    assert.equal(revalidated.headers['x-internal-token'], undefined);
    const hit = await request(gw.url, { path: '/p' });
    assert.match(String(hit.headers['cache-status']), /^edge-1; hit/);
    assert.equal(hit.headers['x-internal-token'], undefined);
    assert.equal(app.seen.length, 2);
  } finally {
    await gw.close();
    await app.close();
  }
});

test('response header rules on a cached route: a hit gets them as a miss did, an added Set-Cookie neither stored nor doubled', async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, {
      'cache-control': 'public, max-age=60',
      server: 'origin/1',
      'x-frame-options': 'ALLOW',
    });
    res.end('page');
  });
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: pages
    match: { path: / }
    upstream: app
    cache: {}
    response_headers:
      set: { X-Frame-Options: DENY }
      add: { Set-Cookie: "seen=1; Path=/" }
      remove: [Server]
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
  );
  try {
    const miss = await request(gw.url, { path: '/p' });
    assert.equal(miss.headers['cache-status'], 'edge-1; fwd=uri-miss');
    for (const r of [miss, await request(gw.url, { path: '/p' })]) {
      assert.equal(r.headers['x-frame-options'], 'DENY');
      assert.deepEqual(r.headers['set-cookie'], ['seen=1; Path=/']);
      assert.equal(r.headers.server, undefined);
    }
    const h2 = await h2Get(gw.url, '/p', {});
    assert.match(String(h2.headers['cache-status']), /^edge-1; hit/);
    assert.equal(h2.headers['x-frame-options'], 'DENY');
    assert.deepEqual(h2.headers['set-cookie'], ['seen=1; Path=/']);
    assert.equal(app.seen.length, 1);
  } finally {
    await gw.close();
    await app.close();
  }
});

test("compression and stale-if-error: the stored answer standing in for the upstream's 500 is coded as its fields say", async () => {
  const page = 'stored page '.repeat(200);
  const app = await origin((_req, res) => {
    res.writeHead(200, {
      'cache-control': 'max-age=0, stale-if-error=60',
      'content-type': 'text/plain',
      etag: '"v1"',
    });
    res.end(page);
  });
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - { name: pages, match: { path: / }, upstream: app, cache: {}, compression: { encodings: [gzip] } }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
  );
  try {
    const first = await request(gw.url, { path: '/p' });
    assert.equal(first.text, page);
    app.answer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('broken '.repeat(300));
    });
    const gz = await request(gw.url, { path: '/p', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    assert.match(String(gz.headers['cache-status']), /fwd=stale/);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), page);
    assert.match(String(gz.headers.vary), /accept-encoding/i);
    const plain = await request(gw.url, { path: '/p' });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, page);
    assert.equal(plain.headers['content-length'], String(page.length));
  } finally {
    await gw.close();
    await app.close();
  }
});

test('compression and a revalidation: the stored answer a 304 confirmed goes compressed to a client that takes gzip', async () => {
  const page = 'stored page '.repeat(200);
  const app = await origin((req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { 'cache-control': 'max-age=0', etag: '"v1"' });
      return res.end();
    }
    res.writeHead(200, { 'cache-control': 'max-age=0', 'content-type': 'text/plain', etag: '"v1"' });
    res.end(page);
  });
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - { name: pages, match: { path: / }, upstream: app, cache: {}, compression: { encodings: [gzip] } }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    'http2: true',
  );
  try {
    await request(gw.url, { path: '/p' });
    const gz = await request(gw.url, { path: '/p', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    assert.equal(app.seen[1]?.['if-none-match'], '"v1"');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.etag, 'W/"v1"');
    assert.equal(gz.headers['content-length'], undefined);
    assert.equal(gunzipSync(gz.body).toString(), page);
    const plain = await request(gw.url, { path: '/p' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.etag, '"v1"');
    assert.equal(plain.text, page);
  } finally {
    await gw.close();
    await app.close();
  }
});

test('a rate limit on a cached route counts its hits: the request past the limit is a 429, never a stored answer, and stores nothing', async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=60' });
    res.end('page');
  });
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - { name: pages, match: { path: / }, upstream: app, cache: {}, rate_limit: { rate: 0.01, burst: 2 } }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
  );
  try {
    assert.equal((await request(gw.url, { path: '/p' })).status, 200);
    assert.equal((await request(gw.url, { path: '/p' })).status, 200);
    const third = await request(gw.url, { path: '/p' });
    assert.equal(third.status, 429);
    assert.equal(third.headers['cache-status'], undefined);
    assert.equal(app.seen.length, 1);
  } finally {
    await gw.close();
    await app.close();
  }
});

test("a plugin's own answer on a cached route is not stored: the next request it lets through reaches the upstream", async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=60' });
    res.end('from upstream');
  });
  const own: Plugin = () => ({
    onRequest(req) {
      if (req.headers.get('x-own') === 'yes')
        return new Response('from plugin', { headers: { 'cache-control': 'public, max-age=60' } });
      return undefined;
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  own: { module: /nonexistent/own.ts }
routes:
  - { name: pages, match: { path: / }, upstream: app, plugins: [own], cache: {} }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    '',
    { plugins: { own } },
  );
  try {
    assert.equal((await request(gw.url, { path: '/p', headers: { 'x-own': 'yes' } })).text, 'from plugin');
    const next = await request(gw.url, { path: '/p' });
    assert.equal(next.text, 'from upstream');
    assert.equal(app.seen.length, 1);
    // And the stored upstream answer never stands in for the plugin's.
    assert.equal((await request(gw.url, { path: '/p', headers: { 'x-own': 'yes' } })).text, 'from plugin');
  } finally {
    await gw.close();
    await app.close();
  }
});

test('maintenance on a cached route: its 503, never the stored answer standing in', async () => {
  const app = await origin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=60' });
    res.end('page');
  });
  const yaml = (maint: string) => `name: edge-1
routes:
  - { name: pages, match: { path: / }, upstream: app, cache: {}${maint} }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`;
  const gw = await startTestGateway(yaml(', maintenance: { retry_after: 5s }'));
  try {
    const r = await request(gw.url, { path: '/p' });
    assert.equal(r.status, 503);
    assert.equal(r.headers['cache-status'], undefined);
    assert.equal(app.seen.length, 0);
  } finally {
    await gw.close();
    await app.close();
  }
});

test('a retry beside a plugin that read the body and edited the fields: the second target gets the same edited bytes', async () => {
  const got: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  // The first target takes the request and resets it: a PUT, idempotent, goes again.
  const first = await listenOnLoopback((req) => {
    req.on('data', () => {});
    req.on('end', () => req.socket.destroy());
  });
  const second = await listenOnLoopback((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  const edit: Plugin = () => ({
    async onRequest(req) {
      const body = await req.body();
      req.headers.set('x-body-length', String(body.length));
      req.headers.delete('x-drop');
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  edit: { module: /nonexistent/edit.ts }
routes:
  - name: put
    match: { path: / }
    upstream: app
    plugins: [edit]
    request_headers: { set: { X-Rule: one } }
upstreams:
  app:
    balancer: round_robin
    retries: { attempts: 2 }
    targets: [{ url: ${first.url} }, { url: ${second.url} }]
`,
    {},
    'http2: true',
    { plugins: { edit } },
  );
  try {
    const body = 'x'.repeat(5000);
    // Asked until the first target is tried first (round robin): each answer must be the second's.
    for (let i = 0; i < 2; i++) {
      const r = await request(gw.url, {
        method: 'PUT',
        path: '/doc',
        headers: { 'x-drop': 'yes', 'transfer-encoding': 'chunked' },
        body,
      });
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(got.length, 2);
    for (const seen of got) {
      assert.equal(seen.body, body);
      assert.equal(seen.headers['x-body-length'], '5000');
      assert.equal(seen.headers['x-rule'], 'one');
      assert.equal(seen.headers['x-drop'], undefined);
      assert.equal(seen.headers['content-length'], '5000');
    }
  } finally {
    await gw.close();
    await first.close();
    await second.close();
  }
});

test("a plugin's field goes upstream though the route's request_headers remove the client's copy of it: the plugins come after the header rules (docs/plugins.md)", async () => {
  const app = await origin((_req, res) => res.end('ok'));
  const user: Plugin = () => ({
    onRequest(request) {
      request.headers.set('x-user-id', 'from-the-plugin');
      request.headers.set('x-tier', 'plugin');
    },
  });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  user: { module: /nonexistent/user.ts }
routes:
  - name: objects
    match: { path: / }
    upstream: app
    request_headers: { remove: [X-User-Id], set: { X-Tier: route, X-Kept: route } }
    plugins: [user]
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    {},
    '',
    { plugins: { user } },
  );
  try {
    const res = await request(gw.url, { path: '/a', headers: { 'x-user-id': 'forged' } });
    assert.equal(res.status, 200);
    const seen = app.seen.at(-1);
    assert.equal(seen?.['x-user-id'], 'from-the-plugin', "the client's copy removed, the plugin's set");
    assert.equal(seen?.['x-tier'], 'plugin', 'the later stage wins a field both set');
    assert.equal(seen?.['x-kept'], 'route');
  } finally {
    await gw.close();
    await app.close();
  }
});
