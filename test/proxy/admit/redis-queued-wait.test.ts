/**
 * `timeout` bounds each call from when it is asked, not from when ioredis writes it. Calls of
 * one turn are written together (auto-pipelining), and a turn's pipeline is written only once
 * the previous one has its replies: against a stalled Redis (SIGSTOP), a call asked while the
 * first waited was written when that one timed out, and then waited its own whole timeout.
 * Here Redis resumes between the two bounds (its own `timeout` after it was asked, and the
 * first's end plus `timeout`): the call must have been decided by then by its own bound, not
 * answered by Redis after it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import { SessionStore } from '../../../src/proxy/admit/oidc/session-store.ts';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});

after(async () => {
  redis?.resume();
  await closeAll(redis);
});

const TIMEOUT = 1_000;
const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;
const quiet = { info: () => {}, warn: () => {} } as never;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `ask(n)` once at once, then again 50 ms later (behind the first's pipeline), with Redis
 * stopped; Redis resumed at 1.5 × TIMEOUT: after the second call's own bound (1.05 ×), before
 * the end of one counted from the first's (2 ×). The second call's outcome.
 */
async function secondOfTwo<T>(ask: (n: number) => Promise<T>): Promise<T> {
  redis.pause();
  try {
    const first = ask(1);
    await sleep(50);
    const second = ask(2);
    const resumed = sleep(1.5 * TIMEOUT).then(() => redis.resume());
    const [, outcome] = await Promise.all([first, second, resumed]);
    return outcome;
  } finally {
    redis.resume();
  }
}

test('a rate limit asked while a stalled pipeline waits is decided by on_error at its own timeout, not answered after it', async () => {
  const rates = new RedisRates({ url: redis.url, onError: 'deny', timeout: TIMEOUT, prefix: 'q:' }, quiet, {
    storeState: () => {},
    storeFallback: () => {},
  });
  try {
    await waitUntil('connected', () => rates.status().state === 'up');
    assert.equal(await rates.take('r', limit, 'warm'), 0);
    assert.deepEqual(await secondOfTwo((n) => rates.take('r', limit, `k${n}`)), {
      storeDenied: 'Command timed out',
    });
  } finally {
    await rates.close();
  }
});

test('a session read asked while a stalled pipeline waits is the store’s 503 at its own timeout', async () => {
  const sessions = new SessionStore({ url: redis.url, timeout: TIMEOUT, prefix: 'q:' }, quiet);
  try {
    await waitUntil('connected', () => sessions.status().state === 'up');
    assert.equal(await sessions.get('warm'), undefined);
    const outcome = await secondOfTwo((n) => sessions.get(`id${n}`));
    assert.ok(outcome instanceof Failure, `a failure, not ${JSON.stringify(outcome)}`);
    assert.equal(outcome.details, 'the session store did not answer: Command timed out');
  } finally {
    sessions.close();
  }
});
