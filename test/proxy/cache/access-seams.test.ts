/**
 * The cache on a route with access control: what the upstream's `Vary` names is matched against
 * the request the upstream saw (the fields forward auth copied, the claims JWT wrote), never the
 * client's own copies; the gateway's own answers carry the route's CORS fields.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { test } from 'node:test';
import { startAuthService } from '../../helpers/auth-service.ts';
import { request } from '../../helpers/http-client.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

/** One GET over h2c: its body and Cache-Status. */
function h2Get(url: string, path: string, headers: http2.OutgoingHttpHeaders) {
  return new Promise<{ text: string; cacheStatus: unknown }>((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...headers });
    let text = '';
    let cacheStatus: unknown;
    stream.setEncoding('utf8');
    stream.on('response', (head) => {
      cacheStatus = head['cache-status'];
    });
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => {
      session.close();
      resolve({ text, cacheStatus });
    });
    stream.on('error', reject);
  });
}

test("forward auth's copied field named by Vary: one user's stored page never answers another", async () => {
  // The service knows the user by a cookie, and tells the app who it is in X-User-Id.
  const service = await startAuthService((req, res) => {
    const user = /session=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
    if (user === undefined) return res.writeHead(401, { 'www-authenticate': 'Cookie' }).end();
    res.writeHead(204, { 'x-user-id': user }).end();
  });
  // The app's page is the user's, and says so: Vary on the field that names the user.
  const app = await listenOnLoopback((req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=60', vary: 'X-User-Id' });
    res.end(`page of ${req.headers['x-user-id']}`);
  });
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - name: me
    match: { path: /me }
    upstream: app
    cache: {}
    auth:
      forward: { url: "${service.url}", copy_headers: [X-User-Id] }
upstreams:
  app:
    targets:
      - url: ${app.url}
`,
    {},
    'http2: true',
  );
  try {
    const alice = await request(gw.url, { path: '/me', headers: { cookie: 'session=alice' } });
    assert.equal(alice.text, 'page of alice');
    const bob = await request(gw.url, { path: '/me', headers: { cookie: 'session=bob' } });
    assert.equal(bob.status, 200);
    assert.equal(bob.text, 'page of bob');
    assert.equal(bob.headers['cache-status'], 'edge-1; fwd=vary-miss');
    // Mallory sends Alice's name himself: the gateway drops his copy, and he gets his own page.
    const mallory = await request(gw.url, {
      path: '/me',
      headers: { cookie: 'session=mallory', 'x-user-id': 'alice' },
    });
    assert.equal(mallory.text, 'page of mallory');
    // Mallory again: his own stored page (one variant per key: the last stored), a hit.
    const again = await request(gw.url, { path: '/me', headers: { cookie: 'session=mallory' } });
    assert.equal(again.text, 'page of mallory');
    assert.match(String(again.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    // Over HTTP/2 alike: Carol is not given Mallory's page.
    const carol = await h2Get(gw.url, '/me', { cookie: 'session=carol' });
    assert.equal(carol.text, 'page of carol');
    assert.equal(carol.cacheStatus, 'edge-1; fwd=vary-miss');
  } finally {
    await gw.close();
    await app.close();
    await service.close();
  }
});

test('a route split between two upstreams: a stored answer of one side never answers a request drawn to the other', async () => {
  const side = async (name: string) =>
    listenOnLoopback((_req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60' });
      res.end(`page of ${name}`);
    });
  const blue = await side('blue');
  const green = await side('green');
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: shop
    match: { path: / }
    cache: {}
    hash_key: header:X-User
    split:
      - { upstream: blue, weight: 1 }
      - { upstream: green, weight: 1 }
upstreams:
  blue:
    targets:
      - url: ${blue.url}
  green:
    targets:
      - url: ${green.url}
`);
  try {
    // Each user stays on one side (hash_key): ask as users until both sides answered, each a
    // miss of its own side, then a hit of it; never the other side's stored page.
    const pages = new Map<string, string>();
    for (let user = 0; user < 40 && pages.size < 2; user++) {
      const id = `split-${user}`;
      const r = await request(gw.url, {
        path: '/page',
        headers: { 'x-user': `u${user}`, 'x-request-id': id },
      });
      const line = await gw.logFor(id);
      assert.equal(r.text, `page of ${line.upstream}`, `user u${user} drawn to ${line.upstream}`);
      if (!pages.has(String(line.upstream))) {
        assert.equal(r.headers['cache-status'], 'edge-1; fwd=uri-miss');
        pages.set(String(line.upstream), r.text);
      } else assert.match(String(r.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
    }
    assert.equal(pages.size, 2, 'both sides were drawn');
  } finally {
    await gw.close();
    await blue.close();
    await green.close();
  }
});

test("CORS on a compressing cached route: a hit, a stale answer and a held request's 503 carry the fields for the origin that asks", async () => {
  const body = 'x'.repeat(2000);
  const fields = ['Content-Type', 'text/plain', 'Cache-Control', 'max-age=0, stale-if-error=60'];
  const origin = await startMoodyOrigin({ status: 200, fields, body });
  const down = await freePort();
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: api
    match: { path: /api }
    upstream: app
    cache: {}
    compression: {}
    cors: { origins: [https://a.example, https://b.example] }
  - name: held
    match: { path: /held }
    upstream: restarting
    cors: { origins: [https://a.example] }
upstreams:
  app:
    targets:
      - url: ${origin.url}
  restarting:
    hold: { timeout: 200ms }
    targets:
      - url: http://127.0.0.1:${down}
`);
  const ask = (path: string, from: string) =>
    request(gw.url, { path, headers: { origin: from, 'accept-encoding': 'gzip' } });
  try {
    const miss = await ask('/api/x', 'https://a.example');
    assert.equal(miss.headers['access-control-allow-origin'], 'https://a.example');
    assert.equal(miss.headers.vary, 'Origin, Accept-Encoding');
    // The upstream fails: the stored answer stands in, for the origin that asks now.
    await origin.stop();
    const stale = await ask('/api/x', 'https://b.example');
    assert.equal(stale.status, 200);
    assert.match(String(stale.headers['cache-status']), /; fwd=stale; fwd-status=502;/);
    assert.match(String(stale.headers['proxy-status']), /^edge-1; error=connection_refused;/);
    assert.equal(stale.headers['content-encoding'], 'gzip');
    assert.equal(stale.headers['access-control-allow-origin'], 'https://b.example');
    assert.match(String(stale.headers['access-control-expose-headers']), /Proxy-Status/);
    assert.equal(stale.headers.vary, 'Origin, Accept-Encoding');
    const held = await ask('/held', 'https://a.example');
    assert.equal(held.status, 503);
    assert.match(String(held.headers['proxy-status']), /^edge-1; error=destination_unavailable;/);
    assert.equal(held.headers['access-control-allow-origin'], 'https://a.example');
    assert.match(String(held.headers['access-control-expose-headers']), /Retry-After/);
  } finally {
    await gw.close();
  }
});

test('a stored answer behind forward auth: a refused client never gets it, and the auth hop failing is its 502, never a stale answer', async () => {
  // Closed mid-test to refuse: on a port no other test file's listen(0) is given meanwhile.
  const service = await startAuthService(
    (req, res) => {
      if (req.headers.cookie === 'session=ok') return res.writeHead(204).end();
      res.writeHead(401, { 'www-authenticate': 'Cookie' }).end();
    },
    await freePort(),
  );
  const fields = ['Content-Type', 'text/plain', 'Cache-Control', 'public, max-age=60, stale-if-error=60'];
  const origin = await startMoodyOrigin({ status: 200, fields, body: 'members only' });
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: members
    match: { path: /members }
    upstream: app
    cache: {}
    auth:
      forward: { url: "${service.url}" }
upstreams:
  app:
    targets:
      - url: ${origin.url}
`);
  const ask = (cookie: string | undefined, id: string) =>
    request(gw.url, { path: '/members', headers: { 'x-request-id': id, ...(cookie ? { cookie } : {}) } });
  try {
    assert.equal((await ask('session=ok', 'm-miss')).text, 'members only');
    assert.match(String((await ask('session=ok', 'm-hit')).headers['cache-status']), /^edge-1; hit;/);
    const refused = await ask(undefined, 'm-refused');
    assert.equal(refused.status, 401);
    assert.notEqual(refused.text, 'members only');
    assert.equal((await gw.logFor('m-refused')).auth, 'denied: forward 401');
    // The auth service goes away: its failure is the client's answer, not the stored page.
    await service.close();
    const failed = await ask('session=ok', 'm-hop-down');
    assert.equal(failed.status, 502);
    assert.match(
      String(failed.headers['proxy-status']),
      /^edge-1; error=connection_refused;.*next-hop="auth:/,
    );
    assert.equal(failed.headers['cache-control'], 'no-store');
    assert.equal((await gw.logFor('m-hop-down')).auth, 'failed: connection_refused');
    assert.equal(origin.heads.length, 1, 'the upstream was asked once, for the first miss');
  } finally {
    await gw.close();
    await origin.stop();
  }
});
