/**
 * A Cache-Control directive's argument may be a quoted-string (RFC 9111 §5.2, RFC 9110 §5.6.4),
 * whose commas, semicolons and spaces are its own: `ext="a, max-age=3600", max-age=0` is two
 * directives, `ext` and a `max-age` of 0, and the answer is stale at once. The store parted the
 * directives on those characters inside the quotes too, and read `max-age=3600"` out of the
 * extension's argument: an hour's hit for an answer its origin said was stale (http-tests
 * cache-tests, cc-parse: "must not reuse a response with `max-age` in a quoted string"). By the
 * same reading a `private` or `no-store` inside another directive's quotes is no directive, while
 * one outside them still keeps the answer out of the store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';

for (const [said, next, upstream] of [
  ['ext="a, max-age=3600", max-age=0', 'edge-1; fwd=stale', 2],
  ['ext="a max-age=3600", max-age=0', 'edge-1; fwd=stale', 2],
  ['ext="a;max-age=3600", max-age=0', 'edge-1; fwd=stale', 2],
  ['ext="a \\" max-age=3600", max-age=0', 'edge-1; fwd=stale', 2],
  ['max-age=0, ext="b, max-age=3600"', 'edge-1; fwd=stale', 2],
  ['ext="a, private", max-age=60', 'edge-1; hit; ttl=60', 1],
  ['ext="no-store; x", max-age=60', 'edge-1; hit; ttl=60', 1],
  // A directive outside the quotes is one, whatever its argument holds.
  ['private="set-cookie, x-user", max-age=60', 'edge-1; fwd=uri-miss', 2],
  ['ext="a, b", no-store, max-age=60', 'edge-1; fwd=uri-miss', 2],
  ['max-age="60", ext="x, y"', 'edge-1; hit; ttl=60', 1],
] as const) {
  test(`an answer with Cache-Control: ${said}, asked twice: ${next}`, async () => {
    const { again, upstream: asks } = await cachedTwice(['Cache-Control', said]);
    assert.equal(again.text, 'page');
    // A second may pass between the two requests: ttl=59 is the same hit.
    assert.equal(String(again.headers['cache-status']).replace('ttl=59', 'ttl=60'), next);
    assert.equal(asks, upstream);
  });
}
