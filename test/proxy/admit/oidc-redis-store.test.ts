/**
 * OpenID Connect sessions kept in Redis (`auth.oidc.store.redis`) on a real `candor serve
 * --workers 2`, a real redis-server and a real provider (oidc-provider): the cookie carries a
 * sealed random id and no token, the session is read by either worker, the logout deletes its
 * key, and Redis stopped is the store's 503 with Retry-After and Proxy-Status naming it, never a
 * 401 nor a 500, and the store's row on /status says down (then up again), as the log does.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { CookieSeal } from '../../../src/proxy/admit/oidc/session-cookie.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  COOKIE_SECRET,
  HttpBrowser,
  startProvider,
  type TestProvider,
} from '../../helpers/oidc-provider.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const ENV = { OIDC_TEST_CLIENT_SECRET: CLIENT_SECRET, OIDC_TEST_COOKIE_SECRET: COOKIE_SECRET };
const ADMIN_TOKEN = 'oidc-store-admin-token-0123456789';

let provider: TestProvider;
let redis: RedisProcess;
let keys: Redis;
let serve: ServeProcess;
let base: string;
let app: http.Server;
/** The upstream connections requests came on: one per worker's pool. */
const sockets = new Set<number>();

before(async () => {
  app = http.createServer((req, res) => {
    sockets.add(req.socket.remotePort ?? 0);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello ${req.headers['x-user']}`);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  provider = await startProvider();
  redis = await startRedis();
  keys = new Redis(redis.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
  keys.on('error', () => {});
  await keys.connect();
  const dir = tempDir('candor-oidc-store-');
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: edge-1
listen:
  - address: 127.0.0.1:0
routes:
  - name: app
    match: { path: / }
    upstream: app
    auth:
      identity_header: X-User
      oidc:
        issuer: ${provider.issuer}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        scopes: [email, offline_access]
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
        timeout: 2s
        store:
          redis: { url: "${redis.url}", timeout: 1s, prefix: "edge:" }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(app.address() as { port: number }).port}
admin:
  listen: 127.0.0.1:${await freePort()}
  token_file: token
`,
  );
  writeFileSync(join(dir, 'token'), ADMIN_TOKEN, { mode: 0o600 });
  serve = await startServe(path, 2, { env: ENV, admin: true });
  base = `http://127.0.0.1:${serve.port}`;
  await provider.register(base);
});

after(async () => {
  keys?.disconnect();
  await closeAll(serve, provider, app);
  await redis?.kill();
});

const seal = new CookieSeal(COOKIE_SECRET, 'session');

async function signedIn(user: string): Promise<HttpBrowser> {
  const browser = new HttpBrowser();
  const login = await browser.go(`${base}/orders`);
  assert.equal(login.status, 200, login.text.slice(0, 300));
  const page = await browser.signIn(login, user);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  assert.equal(page.text, `hello ${user}`);
  return browser;
}

const sessionKeys = () => keys.keys('edge:oidc:*');

/** The session stores as /status shows them, the workers' rows merged. */
async function sessionStores(): Promise<{ state: string; workers_up: number; since: string }[]> {
  const status = await adminCall(serve.adminPort as number, 'GET', '/status', { token: ADMIN_TOKEN });
  assert.equal(status.status, 200);
  return status.body.session_stores as { state: string; workers_up: number; since: string }[];
}

/** Waits, bounded, until /status shows the one store in `state` with `up` workers connected. */
function storeShown(state: string, up: number): Promise<void> {
  return waitUntil(
    `the store ${state}, ${up} workers up`,
    async () => {
      const [store] = await sessionStores();
      return store?.state === state && store.workers_up === up;
    },
    10_000,
  );
}

test('/status shows the session store, its address without the password, up in every worker', async () => {
  await storeShown('up', 2);
  const [store, ...more] = await sessionStores();
  assert.deepEqual(more, []);
  const { since, ...rest } = store ?? { since: '' };
  assert.deepEqual(rest, {
    kind: 'redis',
    address: `redis://127.0.0.1:${new URL(redis.url).port}`,
    prefix: 'edge:oidc:',
    state: 'up',
    workers_up: 2,
  });
  assert.ok(!Number.isNaN(Date.parse(since)), since);
  assert.equal(serve.lines.filter((l) => l.msg === 'OIDC session store connected').length, 2);
});

test('the cookie seals only a random id; the session, tokens and all, is in Redis until it expires', async () => {
  const before = (await sessionKeys()).length;
  const browser = await signedIn('alice');
  const cookie = browser.cookie('127.0.0.1', '_candor_session') as string;
  assert.ok(cookie.length < 300, `${cookie.length} characters`);
  const opened = seal.open(cookie);
  assert.deepEqual(Object.keys(opened ?? {}), ['s']);
  const id = String(opened?.s);
  assert.equal(Buffer.from(id, 'base64url').length, 32);
  assert.equal((await sessionKeys()).length, before + 1);
  const stored = JSON.parse((await keys.get(`edge:oidc:${id}`)) as string);
  assert.equal(stored.c.sub, 'alice');
  assert.ok(typeof stored.i === 'string' && typeof stored.r === 'string');
  // It expires with the session: its TTL is the session's life left.
  const ttl = await keys.pttl(`edge:oidc:${id}`);
  assert.ok(ttl > 0 && ttl <= stored.e - stored.a, `${ttl} ms`);
  // A forged id (sealed with another key) is no session: an API client gets 401.
  const forged = await new CookieSeal('another secret of thirty-two characters!', 'session').seal({ s: id });
  const refused = await request(base, { path: '/orders', headers: { cookie: `_candor_session=${forged}` } });
  assert.equal(refused.status, 401);
});

test('the session is read by either worker', async () => {
  const browser = await signedIn('bob');
  const cookie = `_candor_session=${browser.cookie('127.0.0.1', '_candor_session')}`;
  sockets.clear();
  // Each request on a new connection: the primary hands them to the workers in turn.
  for (let tries = 0; sockets.size < 2; tries++) {
    assert.ok(tries < 40, 'one worker only answered');
    const res = await request(base, { path: '/orders', headers: { cookie } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'hello bob');
  }
});

test('a session near its end is renewed: its key rewritten with the new tokens and expiry, the cookie unchanged', async () => {
  const browser = await signedIn('erin');
  const cookie = `_candor_session=${browser.cookie('127.0.0.1', '_candor_session')}`;
  const key = `edge:oidc:${String(seal.open(cookie.slice('_candor_session='.length))?.s)}`;
  const stored = JSON.parse((await keys.get(key)) as string);
  // Its tokens a few seconds from their end: the next request renews them.
  const ending = { ...stored, a: Date.now() - 3600_000, e: Date.now() + 5000 };
  await keys.set(key, JSON.stringify(ending), 'PX', 5000);
  const tokenCalls = provider.asked.get('/token') ?? 0;
  const res = await request(base, { path: '/renew', headers: { cookie } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'hello erin');
  assert.equal(provider.asked.get('/token'), tokenCalls + 1);
  assert.equal(res.headers['set-cookie'], undefined);
  const renewed = JSON.parse((await keys.get(key)) as string);
  assert.ok(renewed.e > Date.now() + 60_000, JSON.stringify(renewed));
  assert.ok(renewed.a > ending.a);
  assert.ok((await keys.pttl(key)) > 60_000);
});

test('the logout deletes the session from Redis: a copy of the cookie is no longer let in', async () => {
  const browser = await signedIn('carol');
  const cookie = `_candor_session=${browser.cookie('127.0.0.1', '_candor_session')}`;
  const id = String(seal.open(cookie.slice('_candor_session='.length))?.s);
  assert.equal(await keys.exists(`edge:oidc:${id}`), 1);
  const out = await browser.go(`${base}/oauth2/sign_out`, () => true);
  assert.equal(out.status, 302);
  assert.ok(new URL(String(out.headers.location)).searchParams.get('id_token_hint'));
  assert.equal(browser.cookie('127.0.0.1', '_candor_session'), undefined);
  assert.equal(await keys.exists(`edge:oidc:${id}`), 0);
  const again = await request(base, { path: '/orders', headers: { cookie } });
  assert.equal(again.status, 401);
});

test('a sign-in’s answer replayed is refused by every worker: the answered states are kept in Redis', async () => {
  const browser = new HttpBrowser();
  const login = await browser.go(`${base}/orders`);
  const consent = await browser.submit(login, { login: 'gina', password: 'any' });
  const toCallback = (next: URL) => next.pathname === '/oauth2/callback';
  const back = consent.text.includes('name="prompt" value="consent"')
    ? await browser.submit(consent, {}, toCallback)
    : consent;
  const callback = new URL(String(back.headers.location));
  assert.equal(callback.pathname, '/oauth2/callback', callback.href);
  const cookie = browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').join('; ');
  const answer = () =>
    request(base, {
      path: `${callback.pathname}${callback.search}`,
      headers: { cookie, accept: 'text/html' },
    });
  const tokensAsked = provider.asked.get('/token') ?? 0;
  const first = await answer();
  assert.equal(first.status, 302, first.text.slice(0, 300));
  assert.equal(first.headers.location, '/orders');
  // Each on a connection of its own: the two workers both meet the replay.
  for (let i = 0; i < 8; i++) {
    const replayed = await answer();
    assert.equal(replayed.status, 400, replayed.text.slice(0, 300));
    assert.match(String(replayed.headers['proxy-status']), /details="the sign-in's state was used already"/);
  }
  // Never exchanged again: the provider would revoke the tokens its code gave (RFC 6749 §4.1.2).
  assert.equal(provider.asked.get('/token'), tokensAsked + 1);
});

test('a session Redis would not write is the store’s failure, and the same answer again signs in: its state given back, its code not spent twice', async () => {
  const browser = new HttpBrowser();
  const login = await browser.go(`${base}/orders`);
  const consent = await browser.submit(login, { login: 'hana', password: 'any' });
  const toCallback = (next: URL) => next.pathname === '/oauth2/callback';
  const back = consent.text.includes('name="prompt" value="consent"')
    ? await browser.submit(consent, {}, toCallback)
    : consent;
  const callback = new URL(String(back.headers.location));
  assert.equal(callback.pathname, '/oauth2/callback', callback.href);
  const tokensAsked = provider.asked.get('/token') ?? 0;
  // The answered states may still be written and deleted; a session may not (NOPERM).
  await keys.call('ACL', 'SETUSER', 'default', 'resetkeys', '~edge:oidc-state:*');
  let failed: Awaited<ReturnType<HttpBrowser['go']>>;
  try {
    failed = await browser.go(callback.href, () => true);
  } finally {
    await keys.call('ACL', 'SETUSER', 'default', 'resetkeys', '~*');
  }
  assert.ok(failed.status >= 500, `${failed.status} ${failed.text.slice(0, 300)}`);
  assert.match(String(failed.headers['proxy-status']), /; next-hop="store:redis"$/);
  assert.equal(browser.cookie('127.0.0.1', '_candor_session'), undefined);
  assert.equal(browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').length, 1);
  const retried = await browser.go(callback.href, () => true);
  assert.equal(retried.status, 302, retried.text.slice(0, 300));
  assert.equal(retried.headers.location, '/orders');
  assert.ok(browser.cookie('127.0.0.1', '_candor_session'));
  assert.equal(browser.cookiesStarting('127.0.0.1', '_candor_session_flow_').length, 0);
  assert.equal(provider.asked.get('/token'), tokensAsked + 1, 'the code was exchanged once');
});

test('Redis stopped: a signed-in request is the store’s 503 naming it, not a 401 nor a 500; back when it is', async () => {
  const browser = await signedIn('dave');
  const cookie = `_candor_session=${browser.cookie('127.0.0.1', '_candor_session')}`;
  keys.disconnect();
  await redis.kill();
  for (let i = 0; i < 4; i++) {
    const res = await request(base, { path: '/orders', headers: { cookie, accept: 'application/json' } });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(
      res.headers['proxy-status'],
      'edge-1; error=destination_unavailable; details="the session store did not answer: no connection to it is open (it is being opened again)"; next-hop="store:redis"',
    );
    // The type's one title (RFC 9457 §3.1.3); the detail says which hop.
    const problem = JSON.parse(res.text) as { title: string; detail: string };
    assert.equal(problem.title, 'Upstream unavailable');
    assert.match(problem.detail, /the Redis the signed-in sessions are kept in did not answer/);
  }
  // A sign-in ending while Redis is down cannot keep its session: told so, not signed in half-way.
  const late = new HttpBrowser();
  const back = await late.signIn(await late.go(`${base}/orders`), 'frank');
  assert.equal(back.status, 503, back.text.slice(0, 300));
  assert.ok(back.url.startsWith(`${base}/oauth2/callback?`), back.url);
  assert.match(String(back.headers['proxy-status']), /; next-hop="store:redis"$/);
  assert.equal(late.cookie('127.0.0.1', '_candor_session'), undefined);
  // The log names the store as the hop that failed.
  const logged = () => serve.lines.filter((l) => l.auth_hop === 'store:redis');
  for (let tries = 0; logged().length < 5; tries++) {
    assert.ok(tries < 100, JSON.stringify(serve.lines.slice(-2)));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(logged().every((l) => l.status === 503 && l.user === undefined));
  // Each worker's connection is down, on /status and once in its log.
  await storeShown('down', 0);
  const unreachable =
    'OIDC session store unreachable: sign-ins and signed-in requests are answered 503 until it answers';
  await serve.waitForLines(unreachable, 2);
  // Redis back empty (it keeps nothing on disk): the session is gone, and the user signs in again.
  await redis.start();
  for (let tries = 0; ; tries++) {
    assert.ok(tries < 100, 'the gateway did not reconnect to Redis');
    const res = await request(base, { path: '/orders', headers: { cookie } });
    if (res.status === 503) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    assert.equal(res.status, 401);
    break;
  }
  await storeShown('up', 2);
  await serve.waitForLines('OIDC session store reachable: sign-ins served again', 2);
  // Once each way a worker: a down store's failed requests are not a line each.
  assert.equal(serve.lines.filter((l) => l.msg === unreachable).length, 2);
});
