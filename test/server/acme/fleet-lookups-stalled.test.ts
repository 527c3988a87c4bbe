/**
 * Any client can ask a plain listener for `/.well-known/acme-challenge/<token>` (or offer only
 * `acme-tls/1`), and in a fleet each such ask is a lookup in Redis. While that Redis is stalled
 * (SIGSTOP here: its connection held, nothing answered), each lookup gave up after 5 s but stayed
 * in ioredis's queue, so a client asking fast grew the gateway's memory for as long as the stall
 * lasted. Past 1024 lookups unanswered, the next fail at once and are never sent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { AcmeFleet } from '../../../src/server/acme/acme-fleet.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});

after(() => closeAll(redis));

test('a stalled Redis holds at most 1024 challenge lookups: the rest fail at once, naming the stall, and never reach it', async () => {
  const config = { url: redis.url, onError: 'allow', timeout: 50, prefix: 'st:' } as const;
  const fleet = await AcmeFleet.open(config, 'https://ca.example/directory');
  const admin = new Redis(redis.url);
  try {
    assert.equal(await fleet.httpChallenge('first'), undefined);
    await admin.config('RESETSTAT');
    redis.pause();
    const asked = [];
    for (let i = 0; i < 1500; i++) {
      asked.push(i % 2 === 0 ? fleet.httpChallenge(`t${i}`) : fleet.alpnChallenge(`n${i}.example`));
    }
    // What was asked after the bound failed at once: settled while Redis is still stopped.
    const refused = await Promise.allSettled(asked.slice(1024));
    redis.resume();
    const settled = await Promise.allSettled(asked.slice(0, 1024));
    assert.deepEqual(
      [...new Set(refused.map((r) => (r.status === 'rejected' ? String(r.reason.message) : 'answered')))],
      ['1024 calls sent and not answered: Redis is stalled'],
    );
    assert.equal(settled.length, 1024);
    const stats = await admin.info('commandstats');
    assert.match(stats, /cmdstat_get:calls=1024,/);
  } finally {
    admin.disconnect();
    fleet.close();
  }
});
