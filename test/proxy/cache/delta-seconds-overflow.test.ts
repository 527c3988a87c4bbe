/**
 * A delta-seconds past what a cache counts is 2^31 (RFC 9111 §1.2.2: a cache "MUST consider the
 * value to be 2147483648"). Read as it came, `max-age=99999999999999999999999` made Cache-Status
 * say `ttl=1e+23` (no Structured Field integer, RFC 8941 §3.3.1: at most 15 digits, so a parser
 * of the field drops it whole), and a max-age of 400 digits, a number JavaScript reads as
 * Infinity, was never fresh: every request went upstream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';

for (const directive of [
  'max-age=2147483648',
  'max-age=9999999999999999',
  'max-age=99999999999999999999999',
  `max-age=${'9'.repeat(400)}`,
  's-maxage=99999999999999999999999',
  'max-age=0, s-maxage=99999999999999999999999',
]) {
  test(`an answer's ${directive.slice(0, 48)}${directive.length > 48 ? '…' : ''} is fresh for 2^31 seconds: a hit, ttl=2147483648`, async () => {
    const { again, upstream } = await cachedTwice(['Cache-Control', directive]);
    assert.equal(again.text, 'page');
    // Less the second or so it may have spent in the store on a loaded machine.
    assert.match(String(again.headers['cache-status']), /^edge-1; hit; ttl=214748364\d$/);
    assert.equal(upstream, 1);
  });
}
