/**
 * A fleet's Redis client (ACME orders, canary verdicts) after a failover behind one address: the
 * old primary, made a replica, keeps the connection and answers every write READONLY. The write
 * that gets it fails (its caller logs it); the next goes on a new connection, to the new primary,
 * rather than failing until the gateway restarts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { openFleetRedis } from '../../../src/core/net/fleet-redis.ts';
import { type CuttableRelay, cuttableRelay } from '../../helpers/cuttable-relay.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';

let primary: RedisProcess;
let next: RedisProcess;
let relay: CuttableRelay;

before(async () => {
  primary = await startRedis();
  next = await startRedis();
  relay = await cuttableRelay(primary.port);
});

after(() => closeAll(relay, primary, next));

test('a write answered READONLY fails naming it, and the next reaches the new primary', async () => {
  const client = await openFleetRedis({ url: primary.url.replace(`:${primary.port}`, `:${relay.port}`) });
  try {
    assert.equal(await client.set('fleet:k', 'before'), 'OK');
    const admin = new Redis(primary.url);
    try {
      await admin.config('SET', 'masterauth', 'test-secret-password');
      // Loaded in memory: a replica otherwise writes what it gets to dump.rdb in the working folder.
      await admin.config('SET', 'repl-diskless-load', 'swapdb');
      await admin.replicaof('127.0.0.1', next.port);
    } finally {
      admin.disconnect();
    }
    relay.moveTo(next.port);
    await assert.rejects(client.set('fleet:k', 'during'), /^ReplyError: READONLY /);
    // Before, the old connection stayed, and every write of the fleet failed until a restart.
    let written: unknown;
    for (let tries = 0; written !== 'OK'; tries++) {
      assert.ok(tries < 200, 'a write reaches the new primary on a new connection');
      await new Promise((resolve) => setTimeout(resolve, 25));
      written = await client.set('fleet:k', 'after').catch((err: Error) => err.message);
    }
    const check = new Redis(next.url);
    try {
      assert.equal(await check.get('fleet:k'), 'after');
    } finally {
      check.disconnect();
    }
  } finally {
    client.disconnect();
  }
});
