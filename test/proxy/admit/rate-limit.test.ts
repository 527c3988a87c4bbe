/** Per-client rate limits: token buckets per route, 429 http_request_denied with Retry-After. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createFullBucket, takeToken } from '../../../src/core/limits/token-bucket.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { GatewayRateLimits } from '../../../src/proxy/admit/gateway-rate-limits.ts';
import { RateLimiter } from '../../../src/proxy/admit/rate-limit.ts';
import { problemsOf } from '../../core/config/config-fixture.ts';
import { type ClientResponse, request } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

function config(url: string, rateLimit: string): string {
  return `name: edge-1
routes:
  - match: { path: / }
    upstream: app
    rate_limit: ${rateLimit}
upstreams:
  app:
    targets:
      - url: ${url}
`;
}

function burst(url: string, count: number, headers: Record<string, string> = {}): Promise<ClientResponse[]> {
  return Promise.all(Array.from({ length: count }, () => request(url, { headers })));
}

function statuses(responses: readonly ClientResponse[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const res of responses) counts[res.status] = (counts[res.status] ?? 0) + 1;
  return counts;
}

test('rate 1 burst 5: of 12 quick requests 5 pass and 7 get 429 with Retry-After 1; later the bucket is full again', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, '{ rate: 1, burst: 5 }'));
  try {
    // A token a second: 12 requests sent at once are all in before the next (at 2 a second, a
    // loaded machine's took over 500 ms, and a sixth passed).
    const first = await burst(gw.url, 12, { accept: 'application/json' });
    assert.deepEqual(statuses(first), { 200: 5, 429: 7 });
    assert.equal(echo.received.length, 5, 'only the admitted requests reached the upstream');
    const denied = first.filter((res) => res.status === 429);
    for (const res of denied) {
      assert.equal(res.headers['retry-after'], '1');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(
        res.headers['proxy-status'],
        'edge-1; error=http_request_denied; details="over the rate limit of 1 request per second (burst 5) for this client address"; next-hop="app"',
      );
      assert.equal(JSON.parse(res.text).error, 'http_request_denied');
    }
    const id = String(denied[0].headers['x-request-id']);
    const line = await gw.logFor(id);
    assert.equal(line.level, 'warn');
    assert.equal(line.status, 429);
    assert.equal(line.error, 'http_request_denied');
    assert.equal(line.shape, 'gateway');

    // A token a second: full again after 5 s.
    await sleep(5100);
    const later = await burst(gw.url, 6);
    assert.deepEqual(statuses(later), { 200: 5, 429: 1 }, 'a full bucket again: 5 tokens, no more');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('key header:X-Api-Key: each key has its own bucket; requests without the header are limited per client address', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, '{ rate: 1, burst: 2, key: "header:X-Api-Key" }'));
  try {
    assert.deepEqual(statuses(await burst(gw.url, 3, { 'x-api-key': 'alice' })), { 200: 2, 429: 1 });
    assert.deepEqual(statuses(await burst(gw.url, 3, { 'x-api-key': 'bob' })), { 200: 2, 429: 1 });
    const denied = await request(gw.url, { headers: { 'x-api-key': 'alice' } });
    assert.equal(denied.status, 429);
    assert.equal(denied.headers['retry-after'], '1');
    assert.match(String(denied.headers['proxy-status']), /for this x-api-key value"/);
    assert.doesNotMatch(String(denied.headers['proxy-status']), /alice/, 'the key itself is never shown');
    // No header: the client address's bucket, apart from every header value's.
    assert.deepEqual(statuses(await burst(gw.url, 3)), { 200: 2, 429: 1 });
    assert.equal(echo.received.length, 6);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('key header:X-Api-Key: a 429 to a request without the header names the client address, the bucket it drew from, not a key value', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, '{ rate: 1, burst: 1, key: "header:X-Api-Key" }'));
  try {
    assert.equal((await request(gw.url)).status, 200);
    const denied = await request(gw.url, { headers: { 'x-api-key': '' } });
    assert.equal(denied.status, 429);
    assert.equal(
      denied.headers['proxy-status'],
      'edge-1; error=http_request_denied; details="over the rate limit of 1 request per second (burst 1) for this client address (it sent no x-api-key value)"; next-hop="app"',
    );
    const line = await gw.accessLine(2);
    assert.equal(
      line.details,
      'over the rate limit of 1 request per second (burst 1) for this client address (it sent no x-api-key value)',
    );
    assert.equal(echo.received.length, 1);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('Retry-After counts whole seconds to the next token: rate 0.25 after the burst is spent says 4', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, '{ rate: 0.25, burst: 1 }'));
  try {
    assert.equal((await request(gw.url)).status, 200);
    const denied = await request(gw.url);
    assert.equal(denied.status, 429);
    assert.equal(denied.headers['retry-after'], '4');
  } finally {
    await gw.close();
    await echo.close();
  }
});

// A rate of 1e-22 was accepted, and its 429 said `Retry-After: 1e+22`, which is no delay-seconds
// (RFC 9110 §10.2.3: digits only): the slowest rate the config takes is one request in 11.6 days,
// whose wait is a plain number.
test('the slowest rate is 0.000001 a second: its Retry-After is whole seconds in digits; a slower one is a config error', async () => {
  assert.deepEqual(
    problemsOf(
      `listen: [{ address: 127.0.0.1:8080 }]\n${config('http://127.0.0.1:3001', '{ rate: 1e-22, burst: 1 }')}`,
    ).map(({ line, path, message }) => ({ line, path, message })),
    [
      {
        line: 6,
        path: 'routes[0].rate_limit.rate',
        message:
          'expected requests per second, a number of at least 0.000001 (one request in 11.6 days), got 1e-22',
      },
    ],
  );
  const echo = await startEcho();
  const gw = await startTestGateway(config(echo.url, '{ rate: 0.000001, burst: 1 }'));
  try {
    assert.equal((await request(gw.url)).status, 200);
    const denied = await request(gw.url);
    assert.equal(denied.status, 429);
    assert.equal(denied.headers['retry-after'], '1000000');
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('token bucket: burst tokens at once, then one per 1/rate seconds, never more than the burst', () => {
  const shape = { rate: 5, burst: 5 };
  const bucket = createFullBucket(shape, 0);
  for (let i = 0; i < 5; i++) assert.equal(takeToken(bucket, shape, 0), 0);
  assert.equal(takeToken(bucket, shape, 0), 1);
  assert.equal(takeToken(bucket, shape, 199), 1, 'not quite a token yet');
  assert.equal(takeToken(bucket, shape, 201), 0);
  assert.equal(takeToken(bucket, shape, 60_000), 0, 'a long idle time refills the burst, no more');
  assert.ok(Math.abs(bucket.tokens - 4) < 1e-9, `tokens ${bucket.tokens}`);
});

test('eviction: buckets idle for a refill time are dropped, busy ones kept, and never more than the cap', () => {
  const limiter = new RateLimiter({ rate: 10, burst: 20, key: { kind: 'client' }, ipv6Prefix: 64 }, 1000);
  // 5000 distinct clients within one refill time (burst / rate = 2 s): the cap holds all along.
  for (let i = 0; i < 5000; i++) {
    assert.equal(limiter.take(`a:10.0.${i >> 8}.${i & 255}`, Math.floor(i / 10)), 0);
    assert.ok(limiter.size <= 1000, `${limiter.size} buckets after ${i + 1} clients`);
  }
  assert.equal(limiter.size, 1000);
  // The limit still holds for a client that keeps coming back while others pass through.
  const busy = 'a:192.0.2.1';
  assert.equal(countPassed(limiter, busy, 30, 500), 20);
  assert.equal(countPassed(limiter, busy, 30, 2400), 19, '19 tokens came back in 1.9 s');
  // A refill time later the clients seen only before it are gone; the busy bucket, empty, is kept.
  assert.equal(limiter.take('a:198.51.100.7', 2500), 0);
  assert.equal(limiter.size, 2);
  assert.equal(countPassed(limiter, busy, 30, 2500), 1, 'one token in 100 ms, not a fresh burst');
});

test('eviction cap by default: 150 000 distinct keys at once keep at most 100 000 buckets', () => {
  const limiter = new RateLimiter({
    rate: 1,
    burst: 1,
    key: { kind: 'header', name: 'x-api-key' },
    ipv6Prefix: 64,
  });
  for (let i = 0; i < 150_000; i++) limiter.take(`h:key-${i}`, 0);
  assert.ok(limiter.size <= 100_000, `${limiter.size} buckets`);
  assert.ok(limiter.size >= 50_000, `${limiter.size} buckets`);
  assert.equal(limiter.take('h:key-149999', 0), 1, 'recent keys are still limited');
});

function countPassed(limiter: RateLimiter, key: string, tries: number, now: number): number {
  let passed = 0;
  for (let i = 0; i < tries; i++) if (limiter.take(key, now) === 0) passed++;
  return passed;
}

test('an IPv6 client is keyed by its /64 (ipv6_prefix), so rotating addresses in it draws from one bucket', async () => {
  const echo = await startEcho();
  // Behind a trusted proxy, so the test can name IPv6 clients; the key is the same for a peer.
  const route = (path: string, prefix: string) => `  - match: { path: ${path} }
    upstream: app
    rate_limit: { rate: 0.01, burst: 1${prefix} }
`;
  const gw = await startTestGateway(`name: edge-1
trust_forwarded_from: [127.0.0.1]
routes:
${route('/default', '')}${route('/wide', ', ipv6_prefix: 48')}${route('/each', ', ipv6_prefix: 128')}upstreams:
  app:
    targets:
      - url: ${echo.url}
`);
  const ask = (path: string, client: string) =>
    request(gw.url, { path, headers: { 'x-forwarded-for': client } });
  try {
    assert.equal((await ask('/default', '2001:db8:1:2::1')).status, 200);
    const rotated = await ask('/default', '2001:db8:1:2:dead:beef:0:7');
    assert.equal(rotated.status, 429, 'another address of the same /64');
    assert.equal(
      rotated.headers['proxy-status'],
      `edge-1; error=http_request_denied; details="over the rate limit of 0.01 requests per second (burst 1) for this client's IPv6 /64"; next-hop="app"`,
    );
    assert.equal((await ask('/default', '2001:DB8:1:3::1')).status, 200, 'the next /64 is another client');
    assert.equal(
      (await ask('/default', '::ffff:198.51.100.7')).status,
      200,
      'an IPv4 client is its own address',
    );
    assert.equal((await ask('/default', '198.51.100.8')).status, 200);
    assert.equal((await ask('/wide', '2001:db8:1:2::1')).status, 200);
    assert.equal((await ask('/wide', '2001:db8:1:ff00::1')).status, 429, 'the same /48');
    assert.equal((await ask('/wide', '2001:db8:2::1')).status, 200);
    assert.equal((await ask('/each', '2001:db8:1:2::1')).status, 200);
    assert.equal(
      (await ask('/each', '2001:db8:1:2::2')).status,
      200,
      'ipv6_prefix 128: each address its own',
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test("a reload that changes a route's rate_limit keeps each client's tokens under the new limit: a tightened one hands nobody a fresh burst", async () => {
  const echo = await startEcho();
  const text = (limit: string) => `listen: [{ address: 127.0.0.1:0 }]\n${config(echo.url, limit)}`;
  const gw = await startTestGateway(config(echo.url, '{ rate: 0.001, burst: 3 }'));
  const statusesOf = async (count: number) => {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push((await request(gw.url)).status);
    return out;
  };
  try {
    assert.deepEqual(await statusesOf(2), [200, 200]);
    // Tightened under load: the client's one token left stays its own, not a new burst of 2.
    await gw.gateway.reload(parseConfig(text('{ rate: 0.001, burst: 2 }'), '<test>', {}));
    assert.deepEqual(await statusesOf(2), [200, 429]);
    // Loosened: no token appears from the reload itself; the new rate refills from here.
    await gw.gateway.reload(parseConfig(text('{ rate: 0.001, burst: 10 }'), '<test>', {}));
    assert.deepEqual(await statusesOf(1), [429]);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('RateLimiter.reshaped: the same buckets, refilled at the new rate and never above the new burst', () => {
  const limit = { rate: 1, burst: 5, key: { kind: 'client' }, ipv6Prefix: 64 } as const;
  const before = new RateLimiter(limit);
  for (let i = 0; i < 5; i++) assert.equal(before.take('k', 0), 0);
  const after = before.reshaped({ ...limit, rate: 2, burst: 3 });
  assert.equal(after.config.burst, 3);
  assert.equal(after.take('k', 0), 1, 'spent, as before the reload');
  // 10 s at 2 a second would be 20 tokens: the new burst holds 3.
  for (let i = 0; i < 3; i++) assert.equal(after.take('k', 10_000), 0);
  assert.equal(after.take('k', 10_000), 1);
  assert.equal(after.take('other', 10_000), 0, 'a client never seen has the new full burst');
});

test("the cluster primary's gateway-wide buckets are reshaped by a reload as a worker's are: a tightened limit hands nobody a fresh burst", () => {
  const text = (limit: string) =>
    parseConfig(`listen: [{ address: 127.0.0.1:0 }]\n${config('http://127.0.0.1:9', limit)}`, '<test>', {});
  const limits = new GatewayRateLimits(text('{ rate: 0.001, burst: 3 }'));
  const route = text('{ rate: 0.001, burst: 3 }').routes[0].name;
  assert.deepEqual([limits.take(route, 'a:1', 0), limits.take(route, 'a:1', 0)], [0, 0]);
  limits.update(text('{ rate: 0.001, burst: 2 }'));
  assert.equal(limits.take(route, 'a:1', 0), 0, 'its one token left is still its own');
  assert.ok(limits.take(route, 'a:1', 0) > 0, 'and no more: not a fresh burst of 2');
  assert.equal(limits.take(route, 'a:2', 0), 0, 'a client never seen has the new full burst');
});
