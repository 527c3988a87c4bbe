/**
 * `store.redis` stalled (a long fork, swap, `DEBUG SLEEP`, a network that held the packets):
 * each rate-limited request asked meanwhile is decided by `on_error` at `timeout`, but its call
 * was written, and Redis runs it when it wakes. A call Redis takes up only after the gateway gave
 * up on it must take no token: the client was refused (deny) or let through unchecked (allow) for
 * it, and with its bucket emptied by requests no limit judged, it met 429s for a whole window
 * after Redis came back (a client refused nine 503s, then one 200, then `Retry-After: 96`).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});

after(() => closeAll(redis));

const limit = { rate: 0.001, burst: 5, key: { kind: 'client' }, ipv6Prefix: 64 } as const;

test('the calls of requests on_error decided during a stall take no token when Redis wakes: the client keeps its burst', async () => {
  const rates = new RedisRates(
    { url: redis.url, onError: 'deny', timeout: 250, prefix: 'late:' },
    { info: () => {}, warn: () => {} } as never,
    { storeState: () => {}, storeFallback: () => {} },
  );
  try {
    await waitUntil('connected', () => rates.status().state === 'up');
    assert.equal(await rates.take('r', limit, 'other'), 0);
    redis.pause();
    for (let i = 0; i < 5; i++)
      assert.deepEqual(await rates.take('r', limit, 'k'), { storeDenied: 'Command timed out' });
    // Another client's two requests, so that Redis wakes well past the last one's deadline rather
    // than within how late its clock was read (the offset is an upper bound: a call run that close
    // to its deadline may still take its token).
    for (let i = 0; i < 2; i++)
      assert.deepEqual(await rates.take('r', limit, 'other'), { storeDenied: 'Command timed out' });
    redis.resume();
    // Redis runs the five waiting calls first, then these: the client's five tokens are all its own.
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await rates.take('r', limit, 'k'));
    assert.deepEqual(answers, [0, 0, 0, 0, 0, 1000]);
  } finally {
    redis.resume();
    await rates.close();
  }
});
