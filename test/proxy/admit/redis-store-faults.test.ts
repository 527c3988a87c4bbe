/**
 * `store.redis` through a real gateway and a real `redis-server`, failing each way an operator
 * meets: absent when the gateway starts, stalled (SIGSTOP: connected, silent), full (OOM). In
 * each, the client gets on_error's answer at once (deny: 503 `proxy_internal_response`,
 * `Retry-After: 1`; never a hang past `timeout`, never a 500), the store's warn line names Redis's
 * failure, /status and the metrics say down and why, and it comes back by itself. And the 429
 * itself while Redis decides: its exact headers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
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

after(async () => {
  // A test that failed while Redis was stopped: it must not stay stopped for the next file.
  redis?.resume();
  await closeAll(open, redis, echo);
});

/** One limited route, keyed by `x-key` so each step of a test draws from a bucket of its own. */
async function gateway(onError: 'allow' | 'deny', timeout = '300ms') {
  const g = await startTestGateway(`
name: edge
store:
  redis: { url: "${redis.url}", on_error: ${onError}, timeout: ${timeout} }
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 0.1, burst: 2, key: "header:x-key" }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  open.push(g);
  return g;
}

/** Bounded on the client's side too: a request held past 5 s fails the test, not the run. */
const get = (g: TestGateway, key: string) =>
  request(g.url, { path: '/', headers: { accept: 'application/json', 'x-key': key }, timeoutMs: 5_000 });

const storeLines = (g: TestGateway, start: string) => g.logs.filter((l) => l.msg.startsWith(start));

async function metric(g: TestGateway, pattern: RegExp): Promise<void> {
  assert.match((await g.gateway.metrics.exposition()).text, pattern);
}

/** Asks until the store is told up again (a call answered for a second without a failure). */
async function untilShared(g: TestGateway): Promise<void> {
  let n = 0;
  await waitUntil(
    'the store is up again',
    async () => {
      await get(g, `probe-${n++}`);
      return g.gateway.status().store?.state === 'up';
    },
    15_000,
  );
}

/**
 * on_error deny's 503, its details naming the store's failure (`why`, as Proxy-Status quotes it),
 * and the request's own log line naming it too: the store's warn line is written once an outage.
 */
async function assertStoreDenied(
  g: TestGateway,
  res: Awaited<ReturnType<typeof get>>,
  why: RegExp,
): Promise<void> {
  assert.equal(res.status, 503);
  assert.equal(JSON.parse(res.text).error, 'proxy_internal_response');
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.headers['cache-control'], 'no-store');
  const line = await g.logFor(String(res.headers['x-request-id']));
  assert.equal(line.status, 503);
  const details = String(line.details);
  const named = /^the rate limit store could not decide \((.+)\), and store\.redis\.on_error is deny$/.exec(
    details,
  );
  assert.match(String(named?.[1]), why);
  assert.equal(
    res.headers['proxy-status'],
    `edge; error=proxy_internal_response; details=${JSON.stringify(details)}; next-hop="app"`,
  );
}

test('while Redis decides, the 429: Retry-After the whole seconds to the next token, Proxy-Status, no-store, the request id', async () => {
  const g = await gateway('deny');
  await waitUntil('connected', () => g.gateway.status().store?.state === 'up');
  const answers = [await get(g, 'exact'), await get(g, 'exact'), await get(g, 'exact')];
  assert.deepEqual(
    answers.map((r) => r.status),
    [200, 200, 429],
  );
  const denied = answers[2];
  // Burst 2 spent at 0.1 a second: the next token is 10 s away (a moment less, rounded up).
  assert.equal(denied.headers['retry-after'], '10');
  assert.equal(denied.headers['cache-control'], 'no-store');
  assert.equal(
    denied.headers['proxy-status'],
    'edge; error=http_request_denied; details="over the rate limit of 0.1 requests per second (burst 2) for this x-key value"; next-hop="app"',
  );
  const id = String(denied.headers['x-request-id']);
  assert.ok(id.length > 0);
  assert.equal(JSON.parse(denied.text).error, 'http_request_denied');
  const line = await g.logFor(id);
  assert.equal(line.status, 429);
  assert.equal(line.error, 'http_request_denied');
  // The bucket holds what the header said: Redis's own clock and the bucket's refill time.
  const admin = new Redis(redis.url);
  try {
    const [tokens, at] = await admin.hmget(
      `candor:rl:7:limited:h#${createHash('sha256').update('exact').digest('base64')}`,
      'tokens',
      'at',
    );
    const [seconds, micros] = await admin.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const waitMs = ((1 - Number(tokens)) / 0.1) * 1000 - (now - Number(at));
    assert.ok(waitMs > 9_000 && waitMs <= 10_000, String(waitMs));
  } finally {
    admin.disconnect();
  }
});

test('Redis absent when the gateway starts: on_error decides at once, the line names the refusal; it comes: shared, by itself', async () => {
  await redis.kill();
  const deny = await gateway('deny');
  const allow = await gateway('allow');
  try {
    await assertStoreDenied(
      deny,
      await get(deny, 'start'),
      /^no connection to it is open \(it is being opened again\)$/,
    );
    assert.equal((await get(allow, 'start')).status, 200);
    for (const g of [deny, allow]) {
      await waitUntil('told down', () => storeLines(g, 'rate limit store unreachable').length === 1);
      assert.match(
        String(storeLines(g, 'rate limit store unreachable')[0].err),
        /ECONNREFUSED|no connection/,
      );
      const store = g.gateway.status().store;
      assert.equal(store?.state, 'down');
      assert.ok(store?.reason, 'why it is down');
      await metric(g, /candor_store_up\{store="redis"\} 0/);
    }
    await metric(deny, /candor_store_fallback_decisions_total\{store="redis",decision="deny"\} 1\b/);
    await metric(allow, /candor_store_fallback_decisions_total\{store="redis",decision="allow"\} 1\b/);
  } finally {
    await redis.start();
  }
  for (const g of [deny, allow]) {
    await waitUntil('connected', () => g.gateway.status().store?.state === 'up', 15_000);
    // Reached for the first time: the limits were never shared before, so not "again".
    assert.deepEqual(
      storeLines(g, 'rate limit store').map((l) => [l.msg, l.was]),
      [
        [storeLines(g, 'rate limit store unreachable')[0].msg, undefined],
        ['rate limit store connected: limits shared', 'down'],
      ],
    );
    assert.equal(g.gateway.status().store?.reason, undefined);
    await metric(g, /candor_store_up\{store="redis"\} 1/);
  }
  // Both on the one bucket now: burst 2 in all.
  const statuses = [await get(deny, 'after'), await get(allow, 'after'), await get(deny, 'after')];
  assert.deepEqual(
    statuses.map((r) => r.status),
    [200, 200, 429],
  );
});

test('Redis stalled (SIGSTOP): each request decided by on_error within `timeout`, the line names the timeout; SIGCONT: shared again', async () => {
  const deny = await gateway('deny');
  const allow = await gateway('allow');
  for (const g of [deny, allow]) await waitUntil('connected', () => g.gateway.status().store?.state === 'up');
  redis.pause();
  try {
    // The client waits 5 s at most (get): the gateway's own bound is store.redis.timeout.
    await assertStoreDenied(deny, await get(deny, 'stall'), /^Command timed out$/);
    assert.equal((await get(allow, 'stall')).status, 200);
    for (const g of [deny, allow]) {
      const [line] = storeLines(g, 'rate limit store unreachable');
      assert.equal(line.err, 'Command timed out');
      assert.equal(g.gateway.status().store?.state, 'down');
      assert.equal(g.gateway.status().store?.reason, 'Command timed out');
      await metric(g, /candor_store_up\{store="redis"\} 0/);
    }
  } finally {
    redis.resume();
  }
  for (const g of [deny, allow]) {
    await untilShared(g);
    assert.equal(storeLines(g, 'rate limit store unreachable').length, 1, 'one line down');
    assert.equal(storeLines(g, 'rate limit store reachable').length, 1, 'one line up');
  }
  assert.deepEqual(
    [
      (await get(deny, 'resumed')).status,
      (await get(allow, 'resumed')).status,
      (await get(deny, 'resumed')).status,
    ],
    [200, 200, 429],
  );
});

test('Redis full (maxmemory, noeviction): deny answers 503, the line and /status name OOM; given room, shared again', async () => {
  const g = await gateway('deny');
  await waitUntil('connected', () => g.gateway.status().store?.state === 'up');
  const admin = new Redis(redis.url);
  try {
    await admin.set('filler', 'x'.repeat(2_000_000));
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1mb');
    await assertStoreDenied(
      g,
      await get(g, 'full'),
      /^OOM command not allowed when used memory > 'maxmemory'/,
    );
    assert.match(String(storeLines(g, 'rate limit store unreachable')[0].err), /^OOM /);
    assert.match(String(g.gateway.status().store?.reason), /^OOM /);
    await admin.config('SET', 'maxmemory', '0');
    await untilShared(g);
    assert.deepEqual(
      [(await get(g, 'room')).status, (await get(g, 'room')).status, (await get(g, 'room')).status],
      [200, 200, 429],
    );
  } finally {
    await admin.config('SET', 'maxmemory', '0');
    await admin.del('filler');
    admin.disconnect();
  }
});

test('a requirepass the gateway does not know: deny answers 503, /status names WRONGPASS; Redis given that password, shared (for the first time: not "again")', async () => {
  const wrong = 'a-password-rotated-early';
  const g = await startTestGateway(`
name: edge
store:
  redis: { url: "${redis.url.replace('test-secret-password', wrong)}", on_error: deny, timeout: 300ms }
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 0.1, burst: 2, key: "header:x-key" }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`);
  open.push(g);
  await waitUntil('told down', () => storeLines(g, 'rate limit store unreachable').length === 1);
  assert.match(String(storeLines(g, 'rate limit store unreachable')[0].err), /^WRONGPASS /);
  assert.match(String(g.gateway.status().store?.reason), /^WRONGPASS /);
  assert.equal(JSON.stringify(g.gateway.status()).includes(wrong), false, 'no password shown');
  await assertStoreDenied(
    g,
    await get(g, 'pass'),
    /^no connection to it is open \(it is being opened again\)$/,
  );
  await metric(g, /candor_store_up\{store="redis"\} 0/);
  // The rotation finished on Redis's side: the gateway's reconnections succeed, no reload.
  const admin = new Redis(redis.url);
  try {
    await admin.config('SET', 'requirepass', wrong);
    await waitUntil('connected', () => g.gateway.status().store?.state === 'up', 15_000);
    assert.equal(storeLines(g, 'rate limit store connected: limits shared').length, 1);
    assert.equal(storeLines(g, 'rate limit store reachable').length, 0);
    assert.deepEqual(
      [(await get(g, 'rotated')).status, (await get(g, 'rotated')).status, (await get(g, 'rotated')).status],
      [200, 200, 429],
    );
  } finally {
    await admin.config('SET', 'requirepass', 'test-secret-password');
    admin.disconnect();
  }
});

test('on_error allow: the line of a request let through unchecked says so (rate_limit_unchecked, the why); one Redis decided has no such field', async () => {
  const g = await gateway('allow');
  await waitUntil('connected', () => g.gateway.status().store?.state === 'up');
  const decided = await get(g, 'checked');
  assert.equal(decided.status, 200);
  const checkedLine = await g.logFor(String(decided.headers['x-request-id']));
  assert.equal('rate_limit_unchecked' in checkedLine, false);
  await redis.kill();
  try {
    const letThrough = await get(g, 'unchecked');
    assert.equal(letThrough.status, 200);
    const line = await g.logFor(String(letThrough.headers['x-request-id']));
    assert.equal(line.status, 200);
    assert.match(
      String(line.rate_limit_unchecked),
      /^(no connection to it is open|Connection is closed|.*ECONNREFUSED)/,
    );
    assert.equal(line.error, undefined);
  } finally {
    await redis.start();
  }
  await untilShared(g);
});
