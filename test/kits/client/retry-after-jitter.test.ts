/**
 * candor/client: a wait a Retry-After asked for ends a little after the announced time, never
 * before it. Every process of a fleet that was told the same Retry-After (the same date, or the
 * same seconds at the same moment of an overload) would otherwise probe the origin at the same
 * instant, one request each, as the storm the pause was for. The spread is bounded: at most 20 %
 * of the wait, and never more than `backoff.cap`. The draw is read from the report (`delayMs`);
 * its bounds from the function with its random source given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterRetryAfter } from '../../../src/core/retry/backoff.ts';
import { type AttemptReport, createFetch } from '../../../src/kits/client/index.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

test('the wait after a Retry-After: the announced time, then up to 20 % of it more, never more than the cap', () => {
  assert.equal(
    afterRetryAfter(1_000, 2_000, () => 0),
    1_000,
    'never before the announced time',
  );
  assert.equal(
    afterRetryAfter(1_000, 2_000, () => 0.5),
    1_100,
  );
  assert.ok(afterRetryAfter(1_000, 2_000, () => 0.999_999) < 1_200);
  assert.equal(
    afterRetryAfter(60_000, 2_000, () => 0.5),
    61_000,
    'a long pause: the cap bounds the spread',
  );
  assert.equal(
    afterRetryAfter(0, 2_000, () => 0.9),
    0,
    'a Retry-After of 0 asks for no wait',
  );
  assert.equal(
    afterRetryAfter(1_000, 0, () => 0.9),
    1_000,
    'backoff.cap 0: no spread',
  );
});

test('two clients told the same Retry-After by a 503 (a pause) and a 502 (a delay) wait each a time of its own after it, never before', async () => {
  for (const status of [503, 502]) {
    const hits = new Map<string, number>();
    const origin = await listenOnLoopback((req, res) => {
      const n = (hits.get(req.url ?? '') ?? 0) + 1;
      hits.set(req.url ?? '', n);
      if (n === 1) res.writeHead(status, { 'retry-after': '1' }).end('later\n');
      else res.end('ok\n');
    });
    try {
      const delays: (number | undefined)[] = [];
      // Two processes of a fleet: each its own client, each told the same.
      for (const path of ['/a', '/b']) {
        const reports: AttemptReport[] = [];
        const api = createFetch({ circuitBreaker: false, onAttemptFailed: (r) => reports.push(r) });
        const answer = await api(`${origin.url}${path}`);
        assert.equal(answer.status, 200, `${status} ${path}`);
        assert.equal(await answer.text(), 'ok\n');
        assert.deepEqual(
          reports.map((r) => [r.status, r.retryAfterMs, r.retry]),
          [[status, 1_000, true]],
        );
        delays.push(reports[0].delayMs);
      }
      for (const delay of delays) {
        assert.ok(delay !== undefined && delay > 1_000 && delay < 1_200, `${status}: ${delay} ms`);
      }
      assert.notEqual(delays[0], delays[1], `${status}: the two are spread apart`);
    } finally {
      await origin.close();
    }
  }
});
