/**
 * A retry is made only with time left for it after its backoff: one that would start a few ms
 * before the total deadline meets the deadline mid-attempt whenever the loop is a little late (a
 * loaded machine), and the client got the deadline's 504 for an upstream that had only refused.
 * So `decideRetry` keeps a floor (RETRY_FLOOR_MS) between the backoff's end and the deadline;
 * below it the retry is skipped for the deadline and the client gets the failure that happened.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteConfig } from '../../../src/core/config/types.ts';
import { Failure } from '../../../src/core/failure/failure.ts';
import { decideRetry, leavesTimeForRetry, RETRY_FLOOR_MS } from '../../../src/proxy/decide/retry-policy.ts';
import type { Upstream } from '../../../src/upstream/targets/upstream.ts';

/** An upstream as the rule reads it: three attempts on refusals, a backoff of at most 1 ms, circuit and budget open. */
const upstream = {
  config: {
    protocol: 'http1',
    retries: { attempts: 3, on: ['connection_refused'], backoffBase: 1, backoffMax: 1 },
  },
  circuit: { wouldAdmit: () => true },
  retryBudget: { allows: () => true },
} as unknown as Upstream;

const context = (remaining: number) => ({
  req: { method: 'GET', headers: {} },
  route: {} as RouteConfig,
  upstream,
  attempts: 1,
  bodyReplayable: true,
  remaining,
  noFreshTarget: false,
  reusedConnection: false,
});

const refused = () =>
  new Failure('connection_refused', 'connection refused (ECONNREFUSED)', { stage: 'not_sent' });

test('a retry whose backoff leaves less than the floor before the deadline is skipped for the deadline', () => {
  // The backoff is at most 1 ms: 1 ms + the floor is past a deadline of floor - 1 ms whatever the draw.
  for (let i = 0; i < 50; i++)
    assert.deepEqual(decideRetry(refused(), context(RETRY_FLOOR_MS - 1)), { skip: 'deadline' });
});

test('a retry with the floor and its backoff left is made', () => {
  for (let i = 0; i < 50; i++) {
    const verdict = decideRetry(refused(), context(RETRY_FLOOR_MS + 2));
    assert.equal(verdict.skip, undefined);
  }
});

test('the floor as the end of the backoff reads it', () => {
  assert.equal(leavesTimeForRetry(0), false);
  assert.equal(leavesTimeForRetry(RETRY_FLOOR_MS - 0.5), false);
  assert.equal(leavesTimeForRetry(RETRY_FLOOR_MS), true);
  assert.equal(leavesTimeForRetry(RETRY_FLOOR_MS + 5, 5), true);
  assert.equal(leavesTimeForRetry(RETRY_FLOOR_MS + 5, 6), false);
});
