/**
 * `must-understand` (RFC 9111 §5.2.2.3): an origin sends it with `no-store` so that a cache that
 * knows the status's caching rules keeps the answer and one that does not know the directive
 * keeps nothing. Candor knows the rules of every status it stores, so it ignores that `no-store`
 * (the SHOULD), not `private`, and its client still reads the answer's `no-store`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';

for (const [status, said, next, upstream] of [
  [200, 'max-age=60, must-understand, no-store', 'edge-1; hit; ttl=60', 1],
  [200, 'No-Store, Must-Understand, max-age=60', 'edge-1; hit; ttl=60', 1],
  [404, 'must-understand, no-store, max-age=60', 'edge-1; hit; ttl=60', 1],
  [200, 'must-understand, max-age=60', 'edge-1; hit; ttl=60', 1],
  // The directive lifts `no-store` alone: one user's answer stays unkept.
  [200, 'must-understand, no-store, private, max-age=60', 'edge-1; fwd=uri-miss', 2],
  [200, 'no-store, max-age=60', 'edge-1; fwd=uri-miss', 2],
] as const) {
  test(`a ${status} with Cache-Control: ${said}, asked twice: ${next}`, async () => {
    const { again, upstream: asks } = await cachedTwice(['Cache-Control', said], {}, 'the page', status);
    assert.equal(again.status, status);
    assert.equal(again.text, 'the page');
    // A second may pass between the two requests: ttl=59 is the same hit.
    assert.equal(String(again.headers['cache-status']).replace('ttl=59', 'ttl=60'), next);
    // The client's own cache reads the directives as the origin wrote them.
    assert.equal(again.headers['cache-control'], said);
    assert.equal(asks, upstream);
  });
}
