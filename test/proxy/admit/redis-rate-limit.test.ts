/**
 * `store.redis`: a route's rate limit decided in a real Redis (one bucket for every gateway
 * on it), and what happens while Redis is gone: `on_error` decides at once, the change of
 * state is logged once each way, counted, and shown in /status.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { RedisRates, TAKE_TOKEN_SCRIPT } from '../../../src/proxy/admit/redis-rates.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

let echo: Fault;
let redis: RedisProcess;
const open: TestGateway[] = [];

before(async () => {
  echo = await startEcho();
  redis = await startRedis();
});

after(() => closeAll(open, redis, echo));

async function gateway(onError: 'allow' | 'deny', routeName: string, limit = '{ rate: 1, burst: 3 }') {
  const g = await startTestGateway(`
store:
  redis: { url: "${redis.url}", on_error: ${onError}, timeout: 2s }
routes:
  - name: ${routeName}
    match: { path: /limited }
    upstream: app
    rate_limit: ${limit}
  - name: open
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  open.push(g);
  await waitUntil('connected to Redis', () =>
    g.logs.some((l) => l.msg === 'rate limit store connected: limits shared'),
  );
  // A first connection is no recovery (issue 32, item 8).
  assert.equal(g.logs.filter((l) => l.msg.includes('shared again')).length, 0);
  return g;
}

const get = (g: TestGateway, path = '/limited') =>
  request(g.url, { path, headers: { accept: 'application/json' } });

test('two gateways on one Redis share one bucket: burst 3 lets 3 through in all, then 429 with Retry-After', async () => {
  const a = await gateway('allow', 'shared-1');
  const b = await gateway('allow', 'shared-1');
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await get(a), await get(b));
  assert.deepEqual(
    answers.map((r) => r.status),
    [200, 200, 200, 429, 429, 429, 429, 429],
  );
  const denied = answers[3];
  assert.equal(JSON.parse(denied.text).error, 'http_request_denied');
  assert.match(String(denied.headers['proxy-status']), /error=http_request_denied/);
  assert.equal(denied.headers['retry-after'], '1');
  // A route without a limit is never asked about.
  assert.equal((await get(a, '/other')).status, 200);
  // The key as the README writes it: prefix, rl, the route name's length and name, the client's key.
  const client = new Redis(redis.url);
  try {
    assert.deepEqual(await client.keys('candor:rl:*'), ['candor:rl:8:shared-1:a:127.0.0.1']);
    assert.ok((await client.pttl('candor:rl:8:shared-1:a:127.0.0.1')) > 0, 'the bucket expires');
  } finally {
    client.disconnect();
  }
  const status = a.gateway.status();
  assert.equal(status.store?.state, 'up');
  assert.equal(status.store?.address, `redis://127.0.0.1:${redis.port}`);
  assert.equal(JSON.stringify(status).includes('test-secret-password'), false);
});

test('Redis gone: on_error allow lets through, deny answers 503 proxy_internal_response; one log line each way; back: shared again', async () => {
  const allow = await gateway('allow', 'outage', '{ rate: 0.001, burst: 1 }');
  const deny = await gateway('deny', 'outage', '{ rate: 0.001, burst: 1 }');
  assert.equal((await get(allow)).status, 200);
  assert.equal((await get(deny)).status, 429);
  await redis.kill();
  const during = [];
  for (let i = 0; i < 5; i++) during.push(await get(allow), await get(deny));
  assert.deepEqual(
    during.map((r) => r.status),
    [200, 503, 200, 503, 200, 503, 200, 503, 200, 503],
  );
  const refused = during[1];
  assert.equal(JSON.parse(refused.text).error, 'proxy_internal_response');
  assert.match(String(refused.headers['proxy-status']), /error=proxy_internal_response/);
  assert.equal(refused.headers['retry-after'], '1');
  for (const g of [allow, deny]) {
    assert.equal(g.logs.filter((l) => l.msg.startsWith('rate limit store unreachable')).length, 1);
    assert.equal(g.gateway.status().store?.state, 'down');
  }
  const metrics = (await allow.gateway.metrics.exposition()).text;
  assert.match(metrics, /candor_store_up\{store="redis"\} 0/);
  assert.match(metrics, /candor_store_fallback_decisions_total\{store="redis",decision="allow"\} 5/);
  assert.match(metrics, /candor_store_state_changes_total\{store="redis",to="down"\} 1/);
  await redis.start();
  // Reconnection backs off up to 2 s: poll until both are back, then the shared bucket decides again.
  await waitUntil(
    'both gateways reconnected',
    () => [allow, deny].every((g) => g.gateway.status().store?.state === 'up'),
    10_000,
  );
  for (const g of [allow, deny]) {
    const back = g.logs.filter((l) => l.msg.startsWith('rate limit store reachable'));
    assert.deepEqual(
      back.map((l) => [l.msg, l.was]),
      [['rate limit store reachable: limits shared again', 'down']],
    );
  }
  // Redis came back empty: one bucket again for both, burst 1.
  assert.deepEqual([(await get(allow)).status, (await get(deny)).status], [200, 429]);
});

test("a reload that adds store.redis moves the route's limit to Redis; one that removes it, back to the gateway's own bucket", async () => {
  const yaml = (store: string) => `listen: [{ address: 127.0.0.1:0 }]
${store}
routes:
  - name: reloaded
    upstream: app
    rate_limit: { rate: 0.001, burst: 1 }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`;
  const g = await startTestGateway(yaml('').replace('listen: [{ address: 127.0.0.1:0 }]\n', ''));
  open.push(g);
  assert.deepEqual([(await get(g, '/')).status, (await get(g, '/')).status], [200, 429]);
  await g.gateway.reload(parseConfig(yaml(`store: { redis: { url: "${redis.url}" } }`), '<test>', {}));
  // Until the new connection is up, on_error decides (allow): wait for it.
  await waitUntil('connected', () => g.gateway.status().store?.state === 'up');
  // Redis holds its own bucket for the route: full, then spent by one request.
  assert.deepEqual([(await get(g, '/')).status, (await get(g, '/')).status], [200, 429]);
  assert.equal(g.gateway.status().store?.address, `redis://127.0.0.1:${redis.port}`);
  await g.gateway.reload(parseConfig(yaml(''), '<test>', {}));
  assert.equal(g.gateway.status().store, null);
  // The gateway's own bucket again, a new one (none was kept while Redis held the limit).
  assert.deepEqual([(await get(g, '/')).status, (await get(g, '/')).status], [200, 429]);
});

test('a stalled Redis holds at most 1024 decisions: past them on_error decides without sending, and the rest never reach it', async () => {
  // Before, every request of a stall left its command queued for the replies that might come
  // (3 KiB each, without bound: a gigabyte a minute at 5000 requests a second), and Redis
  // worked through all of them when it woke.
  const admin = new Redis(redis.url);
  const fallbacks: string[] = [];
  const warned: unknown[] = [];
  const quiet = { info: () => {}, warn: (fields: unknown) => warned.push(fields) };
  const rates = new RedisRates(
    { url: redis.url, onError: 'deny', timeout: 50, prefix: 'stall:' },
    quiet as never,
    { storeState: () => {}, storeFallback: (decision) => fallbacks.push(decision) },
  );
  try {
    await waitUntil('connected', () => rates.status().state === 'up');
    await admin.config('RESETSTAT');
    redis.pause();
    const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;
    const answers = await Promise.all(
      Array.from({ length: 3000 }, (_, i) => rates.take('stalled', limit, `client-${i}`)),
    );
    assert.ok(
      answers.every((a) => typeof a === 'object'),
      'each request decided by on_error',
    );
    assert.equal(fallbacks.length, 3000);
    assert.equal(rates.status().state, 'down');
    assert.equal(warned.length, 1, 'logged once');
    redis.resume();
    // The replies that waited come first; then a decision is Redis's again (told up after a quiet second).
    let probes = 1;
    for (; (await rates.take('stalled', limit, 'probe')) !== 0 || rates.status().state !== 'up'; probes++) {
      assert.ok(probes < 400, 'Redis decides again after it resumed');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const stats = String(await admin.info('commandstats'));
    const calls = [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    assert.ok(
      calls <= 1024 + probes + 16,
      `Redis was asked ${calls} times for 3000 requests and ${probes} probes`,
    );
  } finally {
    redis.resume();
    await rates.close();
    admin.disconnect();
  }
});

test('a Redis whose answers straddle the timeout is told down once, and up once it has answered in time for a second', async () => {
  // Before, each late answer set it down and each timely one up again: a warn or info line,
  // and a state change counted, at every request.
  let late = true;
  let replies = 0;
  let held = 0;
  const proxy = net.createServer((client) => {
    const server = net.connect(redis.port, '127.0.0.1');
    client.pipe(server);
    server.on('data', (chunk: Buffer) => {
      // The connection's own handshake goes through; then every other reply comes late.
      if (!(late && ++replies > 2 && replies % 2 === 0)) return client.write(chunk);
      held++;
      setTimeout(() => {
        held--;
        if (client.writable) client.write(chunk);
      }, 400);
    });
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const url = redis.url.replace(`:${redis.port}`, `:${(proxy.address() as net.AddressInfo).port}`);
  const lines: string[] = [];
  const changes: boolean[] = [];
  const logger = {
    info: (_: unknown, msg: string) => lines.push(msg),
    warn: (_: unknown, msg: string) => lines.push(msg),
  };
  const rates = new RedisRates({ url, onError: 'allow', timeout: 150, prefix: 'flap:' }, logger as never, {
    storeState: (up) => changes.push(up),
    storeFallback: () => {},
  });
  const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;
  try {
    await waitUntil('connected', () => rates.status().state === 'up');
    for (let i = 0; i < 8; i++) {
      await rates.take('flap', limit, 'k');
      // A late reply is let through before the next call, so replies stay in their order.
      await waitUntil('the late reply through', () => held === 0);
    }
    assert.deepEqual(lines, [
      'rate limit store connected: limits shared',
      'rate limit store unreachable: rate-limited requests are let through until it answers',
    ]);
    assert.deepEqual(changes, [true, false]);
    late = false;
    for (let i = 0; rates.status().state !== 'up'; i++) {
      assert.ok(i < 200, 'told up again once it answers in time');
      await rates.take('flap', limit, 'k');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(lines.at(-1), 'rate limit store reachable: limits shared again');
    assert.deepEqual(changes, [true, false, true]);
  } finally {
    await rates.close();
    proxy.close();
  }
});

test("a slow rate's long refill: the bucket's expiry goes to Redis as digits, 1e15 ms (PEXPIRE refuses `1e+15`)", async () => {
  const g = await gateway('deny', 'glacial', '{ rate: 0.000001, burst: 1000000 }');
  const answer = await get(g);
  assert.equal(answer.status, 200);
  const client = new Redis(redis.url);
  try {
    const ttl = await client.pttl('candor:rl:7:glacial:a:127.0.0.1');
    // burst / rate in ms, and a second: 1e15 + 1000, less the moment since it was set.
    assert.ok(ttl > 999_999_999_000_000 && ttl <= 1_000_000_000_001_000, String(ttl));
  } finally {
    client.disconnect();
  }
  assert.equal(g.logs.filter((l) => l.msg.includes('rate limit store')).length, 1, 'no store failure');
});

test('the script writes any expiry as digits, whatever this Redis makes of a Lua number: 1e17 ms, past what Redis 7.0 writes without an exponent', async () => {
  // Past the config's bounds (a rate of at least 0.000001 keeps the expiry near 1e15 ms, which
  // Redis 7.0 writes as digits itself, and later versions as `1e+15`): here the script alone is
  // judged, with an expiry no Redis writes as digits (`1.00000000000001e+17`, which PEXPIRE refuses).
  const client = new Redis(redis.url);
  try {
    const wait = await client.eval(TAKE_TOKEN_SCRIPT, 1, 'candor:test:far-expiry', '0.00000001', '1000000');
    assert.equal(wait, 0);
    const ttl = await client.pttl('candor:test:far-expiry');
    assert.ok(ttl > 99_999_999_000_000_000 && ttl <= 100_000_000_000_001_100, String(ttl));
  } finally {
    await client.del('candor:test:far-expiry');
    client.disconnect();
  }
});

test("a header key's value (an API key) is never written to Redis as it came: its SHA-256", async () => {
  const g = await gateway('allow', 'keyed', '{ rate: 1, burst: 3, key: "header:X-Api-Key" }');
  const secret = 'sk_live_51HsecretKEY0123456789';
  const res = await request(g.url, { path: '/limited', headers: { 'x-api-key': secret } });
  assert.equal(res.status, 200);
  const client = new Redis(redis.url);
  try {
    const hash = createHash('sha256').update(secret).digest('base64');
    // Was: candor:rl:5:keyed:h:sk_live_51HsecretKEY0123456789, read by whoever may run KEYS.
    assert.deepEqual(await client.keys('candor:rl:5:keyed:*'), [`candor:rl:5:keyed:h#${hash}`]);
  } finally {
    client.disconnect();
  }
});
