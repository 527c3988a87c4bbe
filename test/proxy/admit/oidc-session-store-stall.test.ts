/**
 * The OpenID Connect session store (`auth.oidc.store.redis`) in front of a real redis-server that
 * stalls (SIGSTOP: the connection stays, nothing is answered). Its connection is the rate-limit
 * store's (redis-link.ts): at most 1024 calls wait for a stalled Redis, and the rest fail at once
 * as the store's failure, unsent. Before, ioredis kept every timed-out call (about 3 KiB each) for
 * as long as the stall lasted, and Redis worked through all of them when it woke.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { Failure } from '../../../src/core/failure/failure.ts';
import { SessionStore } from '../../../src/proxy/admit/oidc/session-store.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});

after(() => closeAll(redis));

test('a stalled Redis holds at most 1024 session calls: the rest are the store’s 503 at once, never sent; logged down once, up again after', async () => {
  const admin = new Redis(redis.url);
  const warned: Record<string, unknown>[] = [];
  const told: string[] = [];
  const logger = {
    info: (_fields: unknown, msg: string) => told.push(msg),
    warn: (fields: Record<string, unknown>, msg: string) => {
      warned.push(fields);
      told.push(msg);
    },
  };
  const store = new SessionStore({ url: redis.url, timeout: 50, prefix: 'stall:' }, logger as never);
  try {
    await waitUntil('connected', () => store.status().state === 'up');
    await admin.config('RESETSTAT');
    redis.pause();
    const answers = await Promise.all(Array.from({ length: 3000 }, (_, i) => store.get(`id-${i}`)));
    assert.ok(answers.every((a) => a instanceof Failure && a.type === 'destination_unavailable'));
    const unsent = answers.filter((a) => a instanceof Failure && a.details.endsWith('Redis is stalled'));
    assert.ok(unsent.length >= 3000 - 1024, `${unsent.length} failed unsent`);
    assert.equal((unsent[0] as Failure).nextHop, 'store:redis');
    assert.equal(store.status().state, 'down');
    assert.equal(warned.length, 1, 'logged once');
    redis.resume();
    // The replies that waited come first; then the store answers again (told up after a quiet second).
    let probes = 1;
    for (; (await store.get('probe')) !== undefined || store.status().state !== 'up'; probes++) {
      assert.ok(probes < 400, 'the store answers again after Redis resumed');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(told.at(-1), 'OIDC session store reachable: sign-ins served again');
    const stats = String(await admin.info('commandstats'));
    const calls = Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    assert.ok(
      calls <= 1024 + probes + 16,
      `Redis was asked ${calls} times for 3000 calls and ${probes} probes`,
    );
  } finally {
    redis.resume();
    store.close();
    admin.disconnect();
  }
});

test('a session store whose Redis was down at its start says "connected" when it first answers, "again" only after it was', async () => {
  const told: string[] = [];
  const logger = {
    info: (_fields: unknown, msg: string) => told.push(msg),
    warn: (_fields: unknown, msg: string) => told.push(msg),
  };
  await redis.kill();
  const store = new SessionStore({ url: redis.url, timeout: 200, prefix: 'first:' }, logger as never);
  try {
    await waitUntil('told down', () => store.status().state === 'down');
    await redis.start();
    await waitUntil('connected', () => store.status().state === 'up', 15_000);
    assert.deepEqual(told, [
      'OIDC session store unreachable: sign-ins and signed-in requests are answered 503 until it answers',
      'OIDC session store connected',
    ]);
    await redis.kill();
    await waitUntil('down again', () => store.status().state === 'down');
    await redis.start();
    await waitUntil('up again', () => store.status().state === 'up', 15_000);
    assert.equal(told.at(-1), 'OIDC session store reachable: sign-ins served again');
  } finally {
    store.close();
  }
});
