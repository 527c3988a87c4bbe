/**
 * A URL's database that Redis will not SELECT (past its `databases`, or an ACL user without
 * SELECT): ioredis tells the refusal and goes on to ready on database 0. The stores must not:
 * their keys would land among another fleet's (database 0, same prefix), the store told up.
 * Each is down instead, naming Redis's refusal, on_error (or the session store's 503) deciding,
 * nothing written anywhere; given the database, it decides again by itself.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { Failure } from '../../../src/core/failure/failure.ts';
import { openFleetRedis } from '../../../src/core/net/fleet-redis.ts';
import { SessionStore } from '../../../src/proxy/admit/oidc/session-store.ts';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let redis: RedisProcess;
let admin: Redis;

before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});

after(() => closeAll(admin, redis));

const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;
const session = () => ({ c: { sub: 'ann' }, a: 1, e: Date.now() + 60_000 }) as never;
const quiet = { info: () => {}, warn: () => {} } as never;

/** Every key in every database Redis has (16 by default). */
async function keysAnywhere(): Promise<string[]> {
  const found: string[] = [];
  for (let db = 0; db < 16; db++) {
    await admin.select(db);
    found.push(...(await admin.keys('*')).map((k) => `${db}:${k}`));
  }
  await admin.select(0);
  return found;
}

test('a database past Redis’s `databases`: both stores down naming the refusal, nothing written in database 0', async () => {
  await admin.flushall();
  const url = `${redis.url}/99`;
  const rates = new RedisRates({ url, onError: 'deny', timeout: 1000, prefix: 'db:' }, quiet, {
    storeState: () => {},
    storeFallback: () => {},
  });
  const sessions = new SessionStore({ url, timeout: 1000, prefix: 'db:' }, quiet);
  const fleet = await openFleetRedis({ url });
  try {
    await waitUntil('told down', () => rates.status().state === 'down' && sessions.status().state === 'down');
    // A second to become ready, as it did before: it must not.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(rates.status().state, 'down');
    assert.equal(rates.status().reason, 'ERR DB index is out of range');
    assert.equal(sessions.status().reason, 'ERR DB index is out of range');
    assert.equal(typeof (await rates.take('r', limit, 'k')), 'object');
    const put = await sessions.put('id', session());
    assert.ok(put instanceof Failure);
    assert.equal(put.type, 'destination_unavailable');
    await assert.rejects(fleet.set('db:canary', 'verdict'));
    assert.deepEqual(await keysAnywhere(), []);
  } finally {
    await rates.close();
    sessions.close();
    fleet.disconnect();
  }
});

test('an ACL user without SELECT: down naming NOPERM; granted it, up by itself, its keys in its own database', async () => {
  await admin.flushall();
  await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pw', '~*', '+@all', '-select');
  const url = `redis://limited:limited-pw@127.0.0.1:${redis.port}/3`;
  const rates = new RedisRates({ url, onError: 'deny', timeout: 1000, prefix: 'db:' }, quiet, {
    storeState: () => {},
    storeFallback: () => {},
  });
  try {
    await waitUntil('told down', () => rates.status().state === 'down');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(rates.status().state, 'down');
    assert.match(String(rates.status().reason), /^NOPERM /);
    assert.deepEqual(await keysAnywhere(), []);
    await admin.call('ACL', 'SETUSER', 'limited', '+select');
    await waitUntil('up again', async () => (await rates.take('r', limit, 'k')) === 0, 10_000);
    assert.deepEqual(await keysAnywhere(), ['3:db:rl:1:r:k']);
  } finally {
    await rates.close();
    await admin.call('ACL', 'DELUSER', 'limited');
  }
});
