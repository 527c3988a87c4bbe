/**
 * A Redis that answers but refuses: full (`maxmemory` with `noeviction`: OOM), or the password
 * wrong or missing (WRONGPASS, NOAUTH). Each is the store's failure as a silence is (`on_error`
 * decides), its `warn` line's `err` naming Redis's own word for it, and a full Redis that is given
 * room decides again. A call before any connection is ready is told as that, in plain words.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { RateStoreVerdict } from '../../../src/proxy/admit/rate-store-verdict.ts';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});

after(() => closeAll(redis));

/** The store's failure a denied verdict names (rate-store-verdict.ts). */
function denial(verdict: RateStoreVerdict): string {
  assert.equal(typeof verdict, 'object', `denied, not ${verdict}`);
  return (verdict as { storeDenied: string }).storeDenied;
}

const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;

function ratesOn(url: string) {
  const lines: { msg: string; err?: string }[] = [];
  const log = (fields: { err?: string }, msg: string) => lines.push({ msg, err: fields.err });
  const rates = new RedisRates(
    { url, onError: 'deny', timeout: 1000, prefix: 'rf:' },
    { info: log, warn: log } as never,
    { storeState: () => {}, storeFallback: () => {} },
  );
  const why = () => lines.find((l) => l.msg.startsWith('rate limit store unreachable'))?.err;
  return { rates, lines, why };
}

test('a full Redis (noeviction) is on_error’s, the line naming OOM; given room, it decides again', async () => {
  const { rates, why } = ratesOn(redis.url);
  const admin = new Redis(redis.url);
  try {
    await waitUntil('connected', () => rates.status().state === 'up');
    await admin.set('filler', 'x'.repeat(2_000_000));
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1mb');
    assert.match(denial(await rates.take('r', limit, 'k')), /^OOM command not allowed/);
    assert.match(String(why()), /^OOM command not allowed when used memory > 'maxmemory'/);
    assert.equal(rates.status().state, 'down');
    // /status says why, as the line does: a full Redis is not a wrong password.
    assert.match(String(rates.status().reason), /^OOM command not allowed/);
    await admin.config('SET', 'maxmemory', '0');
    assert.equal(await rates.take('r', limit, 'k'), 0);
    // Told up once its calls are answered for a second without a failure (redis-link.ts).
    await waitUntil(
      'told up again',
      async () => (await rates.take('r', limit, 'k')) === 0 && rates.status().state === 'up',
      10_000,
    );
    assert.equal(rates.status().reason, undefined);
  } finally {
    await admin.config('SET', 'maxmemory', '0');
    admin.disconnect();
    await rates.close();
  }
});

test('a wrong password is on_error’s, the line naming WRONGPASS; none at all, NOAUTH', async () => {
  for (const [url, word] of [
    [redis.url.replace('test-secret-password', 'not-the-password'), /^WRONGPASS /],
    [`redis://127.0.0.1:${redis.port}`, /^NOAUTH /],
  ] as const) {
    const { rates, why } = ratesOn(url);
    try {
      await waitUntil('told down', () => why() !== undefined);
      assert.match(String(why()), word);
      assert.deepEqual(await rates.take('r', limit, 'k'), {
        storeDenied: 'no connection to it is open (it is being opened again)',
      });
      assert.equal(rates.status().state, 'down');
      assert.match(String(rates.status().reason), word);
    } finally {
      await rates.close();
    }
  }
});

test('a decision asked before any connection is ready is told so, not in the words of an ioredis option', async () => {
  redis.pause();
  const { rates, why } = ratesOn(redis.url);
  try {
    assert.deepEqual(await rates.take('r', limit, 'k'), {
      storeDenied: 'no connection to it is open (it is being opened again)',
    });
    assert.equal(why(), 'no connection to it is open (it is being opened again)');
  } finally {
    redis.resume();
    await rates.close();
  }
});

test('refused at every reconnection after its connection was closed (a new password, maxclients): /status names the refusal, not the close', async () => {
  const { rates, lines } = ratesOn(redis.url);
  const downs = () => lines.filter((l) => l.msg.startsWith('rate limit store unreachable'));
  const admin = new Redis(redis.url);
  const kickOut = () => admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  try {
    for (const [refuse, word, undo] of [
      [
        () => admin.config('SET', 'requirepass', 'another'),
        /^WRONGPASS /,
        () => admin.config('SET', 'requirepass', 'test-secret-password'),
      ],
      [
        () => admin.config('SET', 'maxclients', '1'),
        // Redis writes its refusal and closes: read before the close, or the handshake written
        // after it reset (a socket's word, still not the close's).
        /^(ERR max number of clients reached|read ECONNRESET|write (EPIPE|ECONNRESET))$/,
        () => admin.config('SET', 'maxclients', '10000'),
      ],
    ] as const) {
      await waitUntil(
        'up',
        async () => (await rates.take('r', limit, 'k')) === 0 && rates.status().state === 'up',
        10_000,
      );
      await refuse();
      await kickOut();
      await waitUntil('the refusal named', () => word.test(String(rates.status().reason)));
      assert.equal(rates.status().state, 'down');
      // The line is written once, at the first refused reconnection, naming it: the connection
      // closed had nothing asked, which alone is no outage (redis-idle-close.test.ts).
      assert.match(String(downs().at(-1)?.err), word);
      await undo();
    }
  } finally {
    admin.disconnect();
    await rates.close();
  }
});
