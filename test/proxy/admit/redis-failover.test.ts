/**
 * The shared Redis failed over behind one address (Sentinel moving a DNS name or a virtual IP,
 * a managed Redis's primary endpoint): the old primary, now a replica, keeps the connections it
 * had and answers every write READONLY, while a new connection would reach the new primary. The
 * READONLY is named in the log, and the connection is opened again, so the rate limits and the
 * OIDC sessions are kept in the new primary rather than failing until the gateway restarts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { SessionStore } from '../../../src/proxy/admit/oidc/session-store.ts';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { type CuttableRelay, cuttableRelay } from '../../helpers/cuttable-relay.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let primary: RedisProcess;
let next: RedisProcess;
let relay: CuttableRelay;

before(async () => {
  primary = await startRedis();
  next = await startRedis();
  relay = await cuttableRelay(primary.port);
});

after(() => closeAll(relay, primary, next));

/** What a failover does: the primary made a replica of the next one, the address moved to it. */
async function failOver(): Promise<void> {
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
}

const viaRelay = () => primary.url.replace(`:${primary.port}`, `:${relay.port}`);

function logger() {
  const lines: { msg: string; err?: string }[] = [];
  const log = (fields: { err?: string }, msg: string) => lines.push({ msg, err: fields.err });
  return { lines, logger: { info: log, warn: log } as never };
}

const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;

test('rate limits: READONLY from a primary made a replica is named, and the next connection decides on the new primary', async () => {
  const { lines, logger: log } = logger();
  const rates = new RedisRates({ url: viaRelay(), onError: 'deny', timeout: 1000, prefix: 'fo:' }, log, {
    storeState: () => {},
    storeFallback: () => {},
  });
  try {
    await waitUntil('connected', () => rates.status().state === 'up');
    assert.equal(await rates.take('r', limit, 'k'), 0);
    await failOver();
    const denied = await rates.take('r', limit, 'k');
    assert.match(
      typeof denied === 'object' && 'storeDenied' in denied ? denied.storeDenied : String(denied),
      /^READONLY /,
    );
    const down = lines.find((l) => l.msg.startsWith('rate limit store unreachable'));
    assert.match(String(down?.err), /^READONLY /);
    // Before, the old connection stayed and every decision was on_error's until a restart.
    let answer: unknown;
    for (let tries = 0; answer !== 0; tries++) {
      assert.ok(tries < 200, 'Redis decides again on a new connection to the new primary');
      await new Promise((resolve) => setTimeout(resolve, 25));
      answer = await rates.take('r', limit, 'k');
    }
    await waitUntil('up again', () => rates.status().state === 'up');
    const admin = new Redis(next.url);
    try {
      assert.deepEqual(await admin.keys('fo:*'), ['fo:rl:1:r:k']);
    } finally {
      admin.disconnect();
    }
  } finally {
    await rates.close();
  }
});

test('OIDC sessions: a write answered READONLY is the store’s 503 naming it, and the next connection writes to the new primary', async () => {
  await closeAll(relay);
  relay = await cuttableRelay(next.port);
  // The first test's failover left `next` the primary: here it is failed over to `primary`.
  const admin = new Redis(primary.url);
  await admin.replicaof('NO', 'ONE');
  admin.disconnect();
  const { lines, logger: log } = logger();
  const store = new SessionStore({ url: viaRelay(), timeout: 1000, prefix: 'fo:' }, log);
  const session = { c: { sub: 'u' }, a: Date.now(), e: Date.now() + 60_000 };
  try {
    await waitUntil('connected', () => store.status().state === 'up');
    assert.equal(await store.put('one', session), undefined);
    const demote = new Redis(next.url);
    try {
      await demote.config('SET', 'masterauth', 'test-secret-password');
      await demote.config('SET', 'repl-diskless-load', 'swapdb');
      await demote.replicaof('127.0.0.1', primary.port);
    } finally {
      demote.disconnect();
    }
    relay.moveTo(primary.port);
    const failed = await store.put('two', session);
    assert.equal(failed?.type, 'destination_unavailable');
    assert.equal(failed?.status, 503);
    assert.match(String(failed?.details), /^the session store did not answer: READONLY /);
    assert.match(
      String(lines.find((l) => l.msg.startsWith('OIDC session store unreachable'))?.err),
      /READONLY/,
    );
    let written: unknown = failed;
    for (let tries = 0; written !== undefined; tries++) {
      assert.ok(tries < 200, 'the session is written on a new connection to the new primary');
      await new Promise((resolve) => setTimeout(resolve, 25));
      written = await store.put('two', session);
    }
    const check = new Redis(primary.url);
    try {
      assert.equal(JSON.parse(String(await check.get('fo:oidc:two'))).c.sub, 'u');
    } finally {
      check.disconnect();
    }
  } finally {
    store.close();
  }
});
