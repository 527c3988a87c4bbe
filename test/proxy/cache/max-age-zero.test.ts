/**
 * A request's `max-age=0` (a browser's reload) asks the upstream: no stored answer is given for
 * it, not even one stored within the same millisecond. The library reads the directive as RFC
 * 9111 §5.2.1.1 allows ("an age ≤ 0"), so an answer whose age is exactly 0 was a hit, and what a
 * reload got hung on whether its clock had ticked since the answer was stored (a full run once saw
 * it). The clock is frozen here to hold that millisecond.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { originOnly } from '../../../src/proxy/cache/freshness.ts';
import { policyOf, StoredAnswer } from '../../../src/proxy/cache/stored-answer.ts';

const config = { maxSize: 1 << 20, maxEntry: 1 << 16, lockTimeout: 5_000, ...originOnly(60_000) };
const request = { method: 'GET', url: '/pages/home', headers: { host: 'a.test' } };

test('max-age=0 takes no stored answer, one of age 0 included; max-age=1 takes it', () => {
  mock.timers.enable({ apis: ['Date'], now: 1_800_000_000_000 });
  try {
    const stored = new StoredAnswer(
      'a.test /pages/home http',
      policyOf(request, 200, ['Cache-Control', 'max-age=600']),
      200,
      'OK',
      Buffer.from('held'),
      config,
    );
    const asking = (cc: string) =>
      stored.reuse({ ...request, headers: { ...request.headers, 'cache-control': cc } });
    assert.equal(asking('max-age=0'), undefined);
    assert.equal(asking('max-age="0"'), undefined);
    assert.equal(asking('no-cache'), undefined);
    assert.equal(asking('max-age=1'), 'fresh');
    assert.equal(stored.reuse(request), 'fresh');
  } finally {
    mock.timers.reset();
  }
});
