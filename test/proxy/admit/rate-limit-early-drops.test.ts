/**
 * A rate limit's buckets are bounded (docs/limits.md): past half the table's keys within a refill
 * time, the older generation goes whole, and its clients get a fresh burst. That went unsaid: an
 * operator saw a limit let clients through with nothing to tell a flood of keys (or a table too
 * small for the clients) from a limit that does not hold. It is now a `warn` line, at most one a
 * second. A client that keeps sending keeps its bucket, whatever the flood.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { earlyDropLines, GatewayRateLimits } from '../../../src/proxy/admit/gateway-rate-limits.ts';
import { RateLimiter } from '../../../src/proxy/admit/rate-limit.ts';

const limit = { rate: 1, burst: 2, key: { kind: 'client' }, ipv6Prefix: 64 } as const;

test('a generation dropped for size is told, with the buckets it held; a client that kept sending keeps its empty bucket', () => {
  const told: [number, number][] = [];
  const limiter = new RateLimiter(limit, 100, (dropped, maxKeys) => told.push([dropped, maxKeys]));
  const now = 1000;
  assert.equal(limiter.take('a:hostile', now), 0);
  assert.equal(limiter.take('a:hostile', now), 0);
  assert.equal(limiter.take('a:hostile', now), 1, 'its burst spent');
  for (let i = 0; i < 49; i++) limiter.take(`a:10.0.0.${i}`, now);
  assert.equal(limiter.size, 50);
  // The generation is full: the next new key starts another, nothing dropped yet.
  limiter.take('a:10.0.1.0', now);
  assert.deepEqual(told, []);
  // 49 more new keys: the current generation (the hostile client's bucket moved into it when it
  // sent again) fills, and the older one, 49 idle clients' buckets not yet full, goes.
  for (let i = 1; i < 50; i++) {
    limiter.take(`a:10.0.1.${i}`, now);
    if (i % 10 === 0) assert.equal(limiter.take('a:hostile', now), 1, 'still limited while it sends');
  }
  assert.deepEqual(told, [[49, 100]], 'the 49 buckets that went early: told');
  assert.ok(limiter.size <= 100, `${limiter.size} buckets`);
  assert.equal(limiter.take('a:hostile', now), 1, 'the hostile client kept its empty bucket');
});

test("the primary's buckets tell of their route's early drops, in one warn line a second", () => {
  const config = parseConfig(
    'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - name: api\n    upstream: app\n    rate_limit: { rate: 1, burst: 2 }\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n',
    '<test>',
    {},
  );
  const lines: [Record<string, unknown>, string][] = [];
  const limits = new GatewayRateLimits(
    config,
    earlyDropLines({
      warn: (fields: Record<string, unknown>, msg: string) => lines.push([fields, msg]),
    } as never),
  );
  // 150,001 clients within a refill time: two generations of 50,000 dropped, each still holding buckets.
  for (let i = 0; i <= 150_000; i++) limits.take('api', `a:10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 1000);
  assert.equal(lines.length, 1, 'the second drop within the second waits for the next line');
  assert.deepEqual(lines[0][0], { route: 'api', dropped: 50_000, max_keys: 100_000, times: 1 });
  assert.match(lines[0][1], /^rate limit: more clients than its table holds within a refill time/);
});
