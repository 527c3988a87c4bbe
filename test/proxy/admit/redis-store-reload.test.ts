/**
 * A reload that drops `store.redis` or an OpenID Connect route's session store (or names another
 * Redis): the requests already in flight keep their snapshot to their end, its stores included.
 * The old connection is closed once the last of them has ended (or at drain.timeout, whatever is
 * in flight), not at the swap, where a request still before its rate limit check met a closed
 * client: 503 "could not decide (Connection is closed.)" under on_error deny.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET } from '../../helpers/oidc-provider.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

let echo: Fault;
let redis: RedisProcess;
let admin: Redis;
const open: TestGateway[] = [];
/** The forward-auth service: it answers 200 to each check once the test lets it. */
let auth: http.Server;
const heldChecks: http.ServerResponse[] = [];

before(async () => {
  echo = await startEcho();
  redis = await startRedis();
  admin = new Redis(redis.url, { connectionName: 'test-admin' });
  auth = http.createServer((req, res) => {
    if (req.headers['x-hold'] === 'yes') heldChecks.push(res);
    else res.end();
  });
  await new Promise<void>((resolve) => auth.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  for (const res of heldChecks) res.end();
  auth?.closeAllConnections();
  await closeAll(admin, auth, open, redis, echo);
});

/** The connections to Redis other than the test's own (`name`: those of that name only). */
async function gatewayConnections(name?: string): Promise<number> {
  const list = String(await admin.client('LIST'));
  return list
    .split('\n')
    .filter((line) => line.includes(' cmd=') && !line.includes('name=test-admin'))
    .filter((line) => name === undefined || line.includes(`name=${name} `)).length;
}

const authPort = () => (auth.address() as AddressInfo).port;

const yaml = (store: string, more = '') => `${store}${more}
routes:
  - name: checked
    upstream: app
    rate_limit: { rate: 0.001, burst: 1, key: "header:x-key" }
    auth:
      forward: { url: "http://127.0.0.1:${authPort()}", send_headers: [x-hold] }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`;

test('a request in flight across a reload that drops store.redis gets its decision from Redis; the old connection closes after it', async () => {
  const storeYaml = `store: { redis: { url: "${redis.url}", on_error: deny, timeout: 2s } }`;
  const g = await startTestGateway(yaml(storeYaml));
  open.push(g);
  await waitUntil('connected', () => g.gateway.status().store?.state === 'up');
  const get = (headers: Record<string, string>) =>
    request(g.url, { path: '/', headers: { accept: 'application/json', ...headers }, timeoutMs: 5_000 });
  // The bucket of key "spent" is empty in Redis: its next request is a 429 only Redis can give.
  assert.equal((await get({ 'x-key': 'spent' })).status, 200);
  // Held in its auth check, before its rate limit check, while the config is swapped.
  const held = get({ 'x-key': 'spent', 'x-hold': 'yes' });
  await waitUntil('the check held', () => heldChecks.length === 1);
  await g.gateway.reload(parseConfig(`listen: [{ address: 127.0.0.1:0 }]\n${yaml('')}`, '<test>', {}));
  assert.equal(g.gateway.status().store, null);
  // The new snapshot's requests use the gateway's own bucket.
  assert.equal((await get({ 'x-key': 'spent' })).status, 200);
  assert.equal(await gatewayConnections(), 1, 'the old store stays open while its request is in flight');
  heldChecks[0].end();
  const answer = await held;
  assert.equal(answer.status, 429, answer.text);
  assert.equal(JSON.parse(answer.text).error, 'http_request_denied');
  await waitUntil('the old connection closed', async () => (await gatewayConnections()) === 0);
  // Our own goodbye is no outage.
  assert.equal(g.logs.filter((l) => l.msg.startsWith('rate limit store unreachable')).length, 0);
});

test('a request held past drain.timeout does not keep the old store: it is closed then, and the request meets on_error', async () => {
  const storeYaml = `store: { redis: { url: "${redis.url}", on_error: deny, timeout: 2s } }`;
  const drain = '\ndrain: { timeout: 300ms }';
  const g = await startTestGateway(yaml(storeYaml, drain));
  open.push(g);
  await waitUntil('connected', () => g.gateway.status().store?.state === 'up');
  const held = request(g.url, {
    path: '/',
    headers: { accept: 'application/json', 'x-key': 'stuck', 'x-hold': 'yes' },
    timeoutMs: 5_000,
  });
  await waitUntil('the check held', () => heldChecks.length === 2);
  await g.gateway.reload(parseConfig(`listen: [{ address: 127.0.0.1:0 }]\n${yaml('', drain)}`, '<test>', {}));
  await waitUntil('the old connection closed at the bound', async () => (await gatewayConnections()) === 0);
  heldChecks[1].end();
  const answer = await held;
  assert.equal(answer.status, 503);
  assert.match(JSON.parse(answer.text).details, /^the rate limit store could not decide/);
});

test("a reload that drops an OpenID Connect route's session store closes its connection once the old snapshot's requests have ended", async () => {
  const oidc = `
  - name: signed-in
    upstream: app
    auth:
      oidc:
        issuer: http://127.0.0.1:${authPort()}
        client_id: ${CLIENT_ID}
        client_secret_env: OIDC_TEST_CLIENT_SECRET
        cookie: { secret_env: OIDC_TEST_COOKIE_SECRET }
        store:
          redis: { url: "${redis.url}", timeout: 1s }`;
  const withStore = (store: boolean) => `routes:
  - name: slow
    match: { path: /slow }
    upstream: held${store ? oidc : ''}
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
  held:
    targets: [{ url: "http://127.0.0.1:${authPort()}" }]
`;
  // The route reads its secrets from the process's environment, as `candor serve` does.
  const env = { OIDC_TEST_CLIENT_SECRET: CLIENT_SECRET, OIDC_TEST_COOKIE_SECRET: COOKIE_SECRET };
  Object.assign(process.env, env);
  const g = await startTestGateway(withStore(true), env);
  open.push(g);
  await waitUntil(
    'the session store connected',
    async () => (await gatewayConnections('candor-oidc-sessions')) === 1,
  );
  // A request of the old snapshot in flight (at its upstream) across the reload.
  const held = request(g.url, { path: '/slow', headers: { 'x-hold': 'yes' }, timeoutMs: 5_000 });
  await waitUntil('the request held', () => heldChecks.length === 3);
  await g.gateway.reload(
    parseConfig(`listen: [{ address: 127.0.0.1:0 }]\n${withStore(false)}`, '<test>', env),
  );
  // A round trip through the new snapshot, and Redis has seen a close made at the swap, if any.
  assert.equal((await request(g.url, { path: '/slow' })).status, 200);
  assert.equal(await admin.ping(), 'PONG');
  assert.equal(
    await gatewayConnections('candor-oidc-sessions'),
    1,
    'open while the old snapshot has a request',
  );
  heldChecks[2].end();
  assert.equal((await held).status, 200);
  await waitUntil('closed after it', async () => (await gatewayConnections('candor-oidc-sessions')) === 0);
  assert.equal(g.logs.filter((l) => l.msg.startsWith('OIDC session store unreachable')).length, 0);
});
