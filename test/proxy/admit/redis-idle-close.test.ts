/**
 * A Redis that closes idle connections (its own `timeout`, which many deployments set, or a
 * proxy's idle cut): the store's connection is closed while nothing was asked, and ioredis opens
 * the next at once. No request met it, so it is no outage: before, each idle close was a `warn`
 * `rate limit store unreachable: … refused until it answers` and an `info` `… shared again`, and
 * two state changes counted, every `timeout` seconds for as long as the gateway was quiet.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});

after(() => closeAll(redis));

const limit = { rate: 1, burst: 5, key: { kind: 'client' }, ipv6Prefix: 64 } as const;

test('a connection Redis closes for idleness is opened again without a word: no outage told, none counted', async () => {
  const lines: string[] = [];
  const states: boolean[] = [];
  const rates = new RedisRates(
    { url: redis.url, onError: 'deny', timeout: 2000, prefix: 'idle:' },
    {
      info: (_: unknown, msg: string) => lines.push(msg),
      warn: (_: unknown, msg: string) => lines.push(msg),
    } as never,
    { storeState: (up) => states.push(up), storeFallback: () => {} },
  );
  const admin = new Redis(redis.url);
  try {
    await waitUntil('connected', () => rates.status().state === 'up');
    assert.equal(await rates.take('r', limit, 'k'), 0);
    const own = String(await admin.client('ID'));
    const others = async () =>
      String(await admin.client('LIST'))
        .split('\n')
        .map((line) => /^id=(\d+) /.exec(line)?.[1])
        .filter((id) => id !== undefined && id !== own);
    const [first] = await others();
    await admin.config('SET', 'timeout', '1');
    // The admin's own asking keeps it busy; the store's connection idles out, and a new one comes.
    await waitUntil('the idle connection closed and another opened', async () => {
      const ids = await others();
      return ids.length === 1 && ids[0] !== first;
    });
    await admin.config('SET', 'timeout', '0');
    await waitUntil('connected again', () => rates.status().state === 'up');
    assert.equal(await rates.take('r', limit, 'k'), 0);
    assert.deepEqual(lines, ['rate limit store connected: limits shared']);
    assert.deepEqual(states, [true]);
  } finally {
    admin.disconnect();
    await rates.close();
  }
});
