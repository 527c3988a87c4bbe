/**
 * An upstream's Age the store counts from (RFC 9111 §5.1, §4.2.3): delta-seconds, one value. One
 * that is not (`-5`, `soon`) is none: the answer is as old as its time in the store, and its hit
 * never goes out with an Age that is no number of seconds, nor fresh longer than max-age says.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';

for (const [sent, base] of [
  ['-5', 0],
  ['soon', 0],
  ['30', 30],
] as const) {
  test(`an upstream's Age: ${sent} is counted ${base === 0 ? 'as none' : 'as sent'}: the hit's Age is seconds since ${base}, and its ttl the rest of max-age`, async () => {
    const { again: hit, upstream } = await cachedTwice(['Cache-Control', 'max-age=60', 'Age', sent]);
    assert.equal(hit.text, 'page');
    // Delta-seconds, never less than the Age counted from (seconds in the store may pass).
    assert.match(String(hit.headers.age), /^\d+$/);
    const age = Number(hit.headers.age);
    assert.ok(age >= base && age < base + 10, `Age: ${age}`);
    const ttl = Number(/^edge-1; hit; ttl=(-?\d+)$/.exec(String(hit.headers['cache-status']))?.[1]);
    assert.ok(Math.abs(ttl - (60 - age)) <= 1, `ttl=${ttl} with Age ${age}: never past max-age`);
    assert.equal(upstream, 1);
  });
}
