/**
 * A request path's normal form (src/core/uri-path.ts): RFC 3986 §5.2.4's own examples, the
 * refusals, and the property the route phase is built on (issue 31, item 5): no path routed to
 * route A reaches the upstream as a path that another route's match claims, for an upstream that
 * decodes every escape, reads a backslash as "/" and resolves dot-segments (WHATWG URL does).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RouteConfig } from '../../src/core/config/types.ts';
import { Failure } from '../../src/core/failure/failure.ts';
import {
  hasDotSegment,
  normalizePath,
  type PathOptions,
  withEscapesDecoded,
  withoutParameters,
} from '../../src/core/uri-path.ts';
import { rewriteEscapes, routedPath } from '../../src/proxy/route/request-path.ts';
import { upstreamPath } from '../../src/proxy/route/rewrite.ts';
import { createRouter } from '../../src/proxy/route/router.ts';

const KEEP_SLASHES: PathOptions = { normalize: true, mergeSlashes: false };
const MERGED: PathOptions = { normalize: true, mergeSlashes: true };

const normal = (path: string, options = KEEP_SLASHES) => {
  const result = normalizePath(path, options);
  return 'problem' in result ? `refused: ${result.problem}` : result.path;
};

test('dot-segments are removed as RFC 3986 §5.2.4 removes them, never above the root', () => {
  const cases: Array<[string, string]> = [
    ['/a/b/c/./../../g', '/a/g'],
    ['/mid/content=5/../6', '/mid/6'],
    ['/x/../admin', '/admin'],
    ['/./admin', '/admin'],
    ['/../../admin', '/admin'],
    ['/a/..', '/'],
    ['/a/.', '/a/'],
    ['/a/b/..', '/a/'],
    ['/a//../b', '/a/b'],
    ['/a//b', '/a//b'],
    ['/', '/'],
    ['/.hidden/..x/x..', '/.hidden/..x/x..'],
  ];
  for (const [path, expected] of cases) assert.equal(normal(path), expected, path);
});

test('unreserved escapes are decoded (%2e counts as a dot), the others kept with upper-case hex', () => {
  const cases: Array<[string, string]> = [
    ['/x/%2e%2e/admin', '/admin'],
    ['/x/.%2E/admin', '/admin'],
    ['/x/%2E/admin', '/x/admin'],
    ['/%61%64min', '/admin'],
    ['/%7euser/%2D%5f', '/~user/-_'],
    ['/a%3fb%20c', '/a%3Fb%20c'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%2f..', '/a%2F..'],
    ['/%25%32%65', '/%252e'],
  ];
  for (const [path, expected] of cases) assert.equal(normal(path), expected, path);
});

test('merge_slashes merges runs of "/" (the last kept), after no dot-segment is left', () => {
  assert.equal(normal('//admin', MERGED), '/admin');
  assert.equal(normal('/a//b///', MERGED), '/a/b/');
  assert.equal(normal('/a//..//b', MERGED), '/b');
  assert.equal(normal('//', MERGED), '/');
});

test('what no normal form settles is refused, with normalisation on or off', () => {
  for (const options of [KEEP_SLASHES, { normalize: false, mergeSlashes: false }]) {
    assert.match(normal('/a\\b', options), /backslash/);
    assert.match(normal('/a#b', options), /fragment/);
    assert.match(normal('/a%00', options), /NUL/);
    assert.match(normal('/a%0', options), /two hex digits/);
    assert.match(normal('/a%g0', options), /two hex digits/);
    assert.match(normal('/a b', options), /visible ASCII/);
    assert.match(normal('/caf\u00e9', options), /visible ASCII/);
    assert.match(normal('a', options), /start with/);
    // A dot-segment with parameters, as a servlet container reads it: "..".
    for (const spelled of ['/public/..;/admin', '/public/..;x=1/admin', '/a/.;/b', '/a/%2E%2e;/b', '/..;'])
      assert.match(normal(spelled, options), /dot-segment with parameters/, spelled);
    // Overlong UTF-8: "." as %C0%AE, %E0%80%AE, %F0%80%80%AE; "/" as %C0%AF.
    for (const spelled of [
      '/x/%c0%ae%c0%ae/admin',
      '/x/%E0%80%AE.',
      '/%f0%80%80%ae',
      '/a%C0%AFb',
      '/a%c1%81',
      '/x/%f8%80%80%80%ae',
      '/x/%FC%80%80%80%80%AF',
    ])
      assert.match(normal(spelled, options), /overlong UTF-8/, spelled);
  }
  // Parameters elsewhere are a name's own: they go on.
  assert.equal(normal('/a;x=1/b..;c/...;d/;e', KEEP_SLASHES), '/a;x=1/b..;c/...;d/;e');
  // Valid UTF-8 and Latin-1 bytes without an overlong continuation go on.
  assert.equal(
    normal('/caf%C3%A9/%E0%A4%85/%F0%9F%98%80/%C0/m%FCnchen/%F8%88', KEEP_SLASHES),
    '/caf%C3%A9/%E0%A4%85/%F0%9F%98%80/%C0/m%FCnchen/%F8%88',
  );
});

test('with normalisation off the path goes on byte for byte', () => {
  const off = { normalize: false, mergeSlashes: false };
  assert.equal(normal('/x/%2e%2E/../%61', off), '/x/%2e%2E/../%61');
  assert.equal(normal('/a//b', { normalize: false, mergeSlashes: true }), '/a/b');
});

test('an encoded slash or backslash is flagged, for the route to accept or refuse', () => {
  const flag = (path: string) => {
    const result = normalizePath(path, KEEP_SLASHES);
    return 'problem' in result ? undefined : result.encodedSlash;
  };
  assert.equal(flag('/a%2fb'), true);
  assert.equal(flag('/a%5Cb'), true);
  assert.equal(flag('/a%252fb'), false);
  assert.equal(flag('/a/b'), false);
});

test('";" parameters are flagged, and withoutParameters reads the path as a servlet container does', () => {
  const flag = (path: string) => {
    const result = normalizePath(path, KEEP_SLASHES);
    return 'problem' in result ? undefined : result.parameters;
  };
  assert.equal(flag('/admin;x'), true);
  assert.equal(flag('/admin%3Bx'), false);
  assert.equal(flag('/admin'), false);
  assert.equal(withoutParameters('/admin;x=1/list;y'), '/admin/list');
  assert.equal(withoutParameters('/api;/admin?a=;b'), '/api/admin?a=;b');
  assert.equal(withoutParameters('/a%3Bb/c'), '/a%3Bb/c');
  // A segment of parameters alone leaves an empty one, which Tomcat and Spring merge away.
  assert.equal(withoutParameters('/;x/admin'), '/admin');
  assert.equal(withoutParameters('/api/;x=1/admin?a=//b'), '/api/admin?a=//b');
});

test('withEscapesDecoded reads the path as a server that decodes it: the escapes of pchars, but ";"', () => {
  assert.equal(withEscapesDecoded('/%40admin/c%2b%2B/x%3Ay'), '/@admin/c++/x:y');
  assert.equal(withEscapesDecoded('/%21%24%26%27%28%29%2A%2C%3D'), "/!$&'()*,=");
  // Another segment, a query, a fragment, an escape, a parameter or a byte a path cannot hold: kept.
  assert.equal(withEscapesDecoded('/a%2Fb%3Fc%23d%25e%3Bf%20g%22'), '/a%2Fb%3Fc%23d%25e%3Bf%20g%22');
  assert.equal(withEscapesDecoded('/a?q=%40'), '/a?q=%40');
});

test('hasDotSegment sees "." and ".." segments, plain or encoded', () => {
  assert.equal(hasDotSegment('/static/../secret'), true);
  assert.equal(hasDotSegment('/a/%2E'), true);
  assert.equal(hasDotSegment('/a/.%2e/'), true);
  assert.equal(hasDotSegment('/a/..b/.c/...'), false);
});

// ── the property ───────────────────────────────────────────────────────────────────

const route = (index: number, path: string, extra: Partial<RouteConfig> = {}): RouteConfig => ({
  index,
  name: path,
  path,
  upstream: 'u',
  stripPrefix: false,
  allowEncodedSlashes: false,
  limits: { body: 1, buffer: 1 },
  requestBuffering: true,
  retryIdempotencyKey: false,
  ...extra,
});

/** The routes the property is tried on: policy at /admin and /a/b, a rewrite, a pattern, and the catch-all. */
const ROUTES: readonly RouteConfig[] = [
  route(0, '/admin'),
  route(1, '/a/b'),
  route(2, '/a'),
  route(3, '/v1', { rewrite: { kind: 'prefix', prefix: '/api/v1' } }),
  route(4, '/assets', { rewrite: { kind: 'regex', pattern: '^/assets/v-(.*)$', replace: '/static/$1' } }),
  route(5, '/'),
];
const router = createRouter(ROUTES);

/**
 * What a lenient upstream makes of a path: every escape decoded, "\" as "/", dot-segments
 * resolved (by WHATWG URL), and with merge_slashes, runs of "/" merged as nginx and Apache do.
 */
function upstreamView(path: string, options: PathOptions): string {
  const q = path.indexOf('?');
  const decoded = decodeURIComponent(q === -1 ? path : path.slice(0, q)).replaceAll('\\', '/');
  const resolved = new URL(`http://upstream${decoded}`).pathname;
  const view = decodeURIComponent(resolved);
  return options.mergeSlashes ? view.replace(/\/{2,}/g, '/') : view;
}

const segment = fc.constantFrom(
  'admin',
  'Admin',
  'a',
  'b',
  'v1',
  'assets',
  'v-..',
  'v-.',
  'x',
  '',
  '.',
  '..',
  '%2e',
  '%2E%2e',
  '.%2e',
  '%2e.',
  '%61dmin',
  '%61',
  '%62',
  '..%2f',
  'x%2Fadmin',
  '%5c..',
  '..\\admin',
  '%41dmin',
  '%7e',
  'ad%6din',
);
const target = fc
  .tuple(fc.array(segment, { minLength: 1, maxLength: 8 }), fc.constantFrom('', '?q=1', '?p=/../admin'))
  .map(([segments, query]) => `/${segments.join('/')}${query}`);

for (const [name, options] of [
  ['merge_slashes off, an upstream that keeps empty segments', KEEP_SLASHES],
  ['merge_slashes on (the default), an upstream that merges them', MERGED],
] as const) {
  test(`property (${name}): a path routed to one route never reaches the upstream as another route's path`, () => {
    fc.assert(
      fc.property(target, (sent) => {
        const routed = routedPath(sent, sent, options);
        if (routed instanceof Failure) return;
        const chosen = router.match('h', routed.path);
        assert.ok(chosen, 'the catch-all claims every path');
        if (routed.encodedSlash && !chosen.allowEncodedSlashes) return; // refused with 400
        // The normal form is a fixed point: normalising again changes nothing.
        assert.equal(normal(routed.path.split('?')[0], options), routed.path.split('?')[0]);
        const forwarded = upstreamPath(chosen, routed.path);
        if (rewriteEscapes(routed.path, forwarded)) return; // refused with 400
        const seen = upstreamView(forwarded, options);
        if (chosen.rewrite === undefined) {
          // What the upstream acts on is claimed by the route that was chosen, and no other.
          assert.equal(router.match('h', seen)?.name, chosen.name, `${sent} → ${forwarded} → ${seen}`);
        } else if (chosen.rewrite.kind === 'prefix') {
          assert.ok(seen === '/api/v1' || seen.startsWith('/api/v1/'), `${sent} → ${forwarded} → ${seen}`);
        } else {
          // A pattern's result stays where it writes: under /static, or the path left as it was.
          const under = (prefix: string) => seen === prefix || seen.startsWith(`${prefix}/`);
          assert.ok(under('/static') || under('/assets'), `${sent} → ${forwarded} → ${seen}`);
        }
      }),
      { numRuns: 3000 },
    );
  });
}
