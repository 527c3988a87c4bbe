/** The store's bounds: max_size in bytes, least recently used out first; nothing over max_entry kept. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerCache } from '../../../src/proxy/cache/answer-cache.ts';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { policyOf, StoredAnswer } from '../../../src/proxy/cache/stored-answer.ts';

const config = {
  maxSize: 18_000,
  maxEntry: 4_000,
  lockTimeout: 5_000,
  workersShare: true,
  ...originOnly(60_000),
};

function answer(key: string, bytes: number): StoredAnswer {
  const request = { method: 'GET', url: `/${key}`, headers: { host: 'a.test' } };
  const policy = policyOf(request, 200, ['Cache-Control', 'max-age=60']);
  return new StoredAnswer(key, policy, 200, 'OK', Buffer.alloc(bytes), config);
}

test('max_size holds: the least recently used answer goes first, a hit keeps its own', () => {
  const cache = new AnswerCache(config, 'pages');
  for (const key of ['a', 'b', 'c']) assert.ok(cache.set(answer(key, 3000)));
  assert.ok(cache.get('a'), 'a is now the most recently used');
  assert.ok(cache.set(answer('d', 3000)));
  assert.equal(cache.get('b'), undefined, 'b, the least recently used, went');
  assert.ok(cache.get('a'));
  assert.ok(cache.get('c'));
  assert.ok(cache.get('d'));
  assert.ok(cache.bytes <= config.maxSize, `${cache.bytes} bytes held`);
});

test('an answer over max_entry is not kept; purge by prefix, then all', async () => {
  const cache = new AnswerCache(config, 'pages');
  assert.equal(cache.set(answer('big', 5000)), false);
  assert.equal(cache.size, 0);
  cache.set(answer('a.test /x', 10));
  cache.set(answer('a.test /y', 10));
  cache.set(answer('b.test /x', 10));
  assert.equal(await cache.purge('a.test /x'), 1);
  assert.equal(await cache.purge(), 2);
  assert.equal(cache.bytes, 0);
});

test("a 304's fields are counted: the store lets the least recently used go until it fits max_size again", () => {
  const cache = new AnswerCache(config, 'pages');
  for (const key of ['a', 'b', 'c']) assert.ok(cache.set(answer(key, 3000)));
  const a = cache.get('a') as StoredAnswer;
  const before = a.size;
  cache.revalidated(
    a,
    { method: 'GET', url: '/a', headers: { host: 'a.test' } },
    { 'x-build': 'x'.repeat(2500) },
    undefined,
  );
  assert.ok(a.size > before + 2500, 'the new field counts');
  assert.equal(cache.get('b'), undefined, 'b, the least recently used, went');
  const c = cache.get('c') as StoredAnswer;
  assert.equal(cache.get('a'), a);
  assert.equal(cache.bytes, a.size + c.size);
  assert.ok(cache.bytes <= config.maxSize, `${cache.bytes} bytes held`);
});

/** An answer with these Cache-Control fields (and Age), stored under a route whose stale_if_error cap is `capMs`. */
function kept(fields: string[], capMs: number): StoredAnswer {
  const request = { method: 'GET', url: '/k', headers: { host: 'a.test' } };
  return new StoredAnswer(
    'k',
    policyOf(request, 200, fields),
    200,
    'OK',
    Buffer.from('page'),
    originOnly(capMs),
  );
}

test("an answer past the route's stale_if_error cap is of no more use, whatever its own stale-if-error says: it goes at the next look, not an hour later", () => {
  const cache = new AnswerCache({ ...config, staleIfError: 1_000 }, 'pages');
  // 5 s old, stale at once: past the route's 1 s, within its own hour.
  const dead = kept(['Cache-Control', 'max-age=0, stale-if-error=3600', 'Age', '5'], 1_000);
  assert.ok(dead.usefulFor() <= 0, `useful for ${dead.usefulFor()} ms more`);
  assert.ok(cache.set(dead));
  assert.equal(cache.get('k'), undefined);
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
});

test('an answer within its stale-while-revalidate is kept for it, unless it must be revalidated once stale', () => {
  const swr = kept(['Cache-Control', 'max-age=0, stale-while-revalidate=600', 'Age', '5'], 0);
  assert.ok(swr.usefulFor() > 590_000, `useful for ${swr.usefulFor()} ms more`);
  const bound = kept(
    ['Cache-Control', 'max-age=0, must-revalidate, stale-while-revalidate=600', 'Age', '5'],
    0,
  );
  assert.ok(bound.usefulFor() <= 0, `useful for ${bound.usefulFor()} ms more`);
  const withinOwn = kept(['Cache-Control', 'max-age=0, stale-if-error=3600', 'Age', '5'], 60_000);
  assert.ok(
    withinOwn.usefulFor() > 50_000 && withinOwn.usefulFor() <= 55_000,
    `useful for ${withinOwn.usefulFor()} ms`,
  );
});
