/**
 * `Cache-Control: immutable` (RFC 8246) says an answer will not change while it is fresh; it says
 * nothing of how long that is. Its freshness is what max-age, s-maxage or Expires say, none
 * without them: the library's default made it at least 24 h, counted as seconds (1000 days).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';

for (const [what, fields, again] of [
  ['immutable alone: stale at once, the next request goes upstream', [], /^edge-1; fwd=stale$/],
  [
    'public, immutable and an Expires a minute off: fresh for that minute',
    ['Expires', new Date(Date.now() + 60_000).toUTCString()],
    /^edge-1; hit; ttl=(5\d|60)$/,
  ],
  [
    'max-age=600, immutable: fresh for max-age',
    ['Cache-Control', 'max-age=600'],
    /^edge-1; hit; ttl=(59\d|600)$/,
  ],
] as const) {
  test(`an answer with ${what}`, async () => {
    const { again: next, upstream } = await cachedTwice(['Cache-Control', 'public, immutable', ...fields]);
    assert.equal(next.text, 'page');
    assert.match(String(next.headers['cache-status']), again);
    assert.equal(upstream, again.source.includes('hit') ? 1 : 2);
  });
}
