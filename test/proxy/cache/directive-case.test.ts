/**
 * Cache-Control directive names are case-insensitive (RFC 9111 §5.2): an upstream's `Private`
 * or `No-Store` keeps its answer out of the store as `private` does, its `Max-Age` gives it
 * freshness, and a client's `No-Cache` sends its request upstream. A directive given twice
 * counts as its first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedTwice } from '../../helpers/cached-twice.ts';

for (const [said, asked, next, upstream] of [
  ['Private, max-age=60', {}, 'edge-1; fwd=uri-miss', 2],
  ['No-Store, max-age=60', {}, 'edge-1; fwd=uri-miss', 2],
  ['MAX-AGE=60', {}, 'edge-1; hit; ttl=60', 1],
  ['max-age=60', { 'cache-control': 'No-Cache' }, 'edge-1; fwd=request', 2],
  // A directive given twice counts as its first (RFC 9111 §4.2.1), whatever its spelling.
  ['max-age=0, max-age=60', {}, 'edge-1; fwd=stale', 2],
  ['max-age=60, MAX-AGE=0', {}, 'edge-1; hit; ttl=60', 1],
  // An argument does not lift the directive, an empty one no more than another (RFC 9111
  // §4.2.1: the most restrictive reading; nginx's too): `no-store` takes none, and `private=""`
  // or `no-cache=""` name no field, which leaves the directive, not nothing.
  ['max-age=60, Private=set-cookie', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age=60, no-store=""', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age=60, no-store=', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age=60, private=""', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age=60, Private=', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age=60, no-cache', {}, 'edge-1; fwd=uri-miss', 2],
  // A delta-seconds is digits (RFC 9111 §1.2.2); one that is not gives no freshness (§4.2.1:
  // caches "are encouraged to consider responses that have invalid freshness information" stale),
  // where the library's parseInt read `60abc` as 60 and `1e3` as 1. Quoted is the same number (§5.2).
  ['max-age=60abc', {}, 'edge-1; fwd=stale', 2],
  ['max-age=1e3', {}, 'edge-1; fwd=stale', 2],
  ['max-age=+60', {}, 'edge-1; fwd=stale', 2],
  ['s-maxage=60s, max-age=60', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age="60"', {}, 'edge-1; hit; ttl=60', 1],
  ['max-age=60, no-cache=""', {}, 'edge-1; fwd=uri-miss', 2],
  // A `;` where a `,` belongs (a common slip: `private; max-age=0`) still says `private` or
  // `no-store`, as nginx reads it (it finds the word anywhere): the library read one directive,
  // `private; max-age` or `max-age` of `60;private`, and kept one user's page, stale at once, to
  // stand in for the upstream's next 5xx for every user.
  ['max-age=60; private', {}, 'edge-1; fwd=uri-miss', 2],
  ['private;max-age=60', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age=60;No-Store', {}, 'edge-1; fwd=uri-miss', 2],
  // A space where a `,` belongs (`private max-age=0`, `no-cache no-store`) parts directives
  // too, as nginx and Varnish read it (both find the word): read as one directive, `max-age` of
  // `60 private` or `private max-age`, it kept one user's page stale, to stand in for the
  // upstream's next 5xx for every user.
  ['max-age=60 private', {}, 'edge-1; fwd=uri-miss', 2],
  ['private max-age=60', {}, 'edge-1; fwd=uri-miss', 2],
  ['No-Store max-age=60', {}, 'edge-1; fwd=uri-miss', 2],
  ['max-age=60\tprivate', {}, 'edge-1; fwd=uri-miss', 2],
] as const) {
  test(`an answer with Cache-Control: ${said}, then a request with ${JSON.stringify(asked)}: ${next}`, async () => {
    const { again, upstream: asks } = await cachedTwice(['Cache-Control', said], asked, "alice's page");
    assert.equal(again.text, "alice's page");
    // A second may pass between the two requests: ttl=59 is the same hit.
    assert.equal(String(again.headers['cache-status']).replace('ttl=59', 'ttl=60'), next);
    assert.equal(asks, upstream);
  });
}
