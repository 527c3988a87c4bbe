import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RouteConfig } from '../../../src/core/config/types.ts';
import { createRouter, matchesPrefix, stripPrefix } from '../../../src/proxy/route/router.ts';

const route = (index: number, path: string, host?: string): RouteConfig => ({
  index,
  name: `r${index}`,
  host,
  path,
  upstream: 'u',
  stripPrefix: false,
  allowEncodedSlashes: false,
  limits: { body: 1, buffer: 1 },
  requestBuffering: true,
  retryIdempotencyKey: false,
});

test('the most specific route wins whatever the file order', () => {
  const router = createRouter([
    route(0, '/'),
    route(1, '/api'),
    route(2, '/api/v2'),
    route(3, '/', 'shop.example'),
    route(4, '/', '*.example'),
    route(5, '/', '*.eu.example'),
  ]);
  assert.equal(router.match('any', '/x')?.index, 0);
  assert.equal(router.match('any', '/api/users')?.index, 1);
  assert.equal(router.match('any', '/api/v2/users')?.index, 2);
  assert.equal(router.match('any', '/apiary')?.index, 0, 'prefixes match on segment boundaries');
  assert.equal(router.match('shop.example', '/api')?.index, 3, 'an exact host beats any-host routes');
  assert.equal(router.match('a.example', '/')?.index, 4);
  assert.equal(router.match('b.eu.example', '/')?.index, 5, 'the longer wildcard wins');
  assert.equal(router.match('example', '/')?.index, 0, '*.example does not match the bare domain');
});

test('no route: undefined', () => {
  assert.equal(createRouter([route(0, '/api')]).match('h', '/other'), undefined);
});

test('prefix matching and stripping', () => {
  assert.equal(matchesPrefix('/v1', '/v1'), true);
  assert.equal(matchesPrefix('/v1', '/v1/'), true);
  assert.equal(matchesPrefix('/v1', '/v1?x'), true);
  assert.equal(matchesPrefix('/v1', '/v10'), false);
  assert.equal(stripPrefix('/v1', '/v1/a?b'), '/a?b');
  assert.equal(stripPrefix('/v1', '/v1'), '/');
  assert.equal(stripPrefix('/v1', '/v1?q'), '/?q');
  assert.equal(stripPrefix('/', '/a'), '/a');
});

/**
 * Past 16 routes a host's routes are found by prefix (router.ts's RouteList), not tried one by
 * one: the route picked is the one the one-by-one walk picks, for any routes and any path. The
 * walk here is the rule itself: of the routes whose host group is the first to have a match and
 * whose prefix and methods the request meets, the longest prefix, then more conditions, then
 * the earlier in the file.
 */
test('many routes of one host: the route found by prefix is the one the rule picks, for any path', () => {
  const PREFIXES = ['/', '/a', '/a/', '/a/b', '/a/b/c', '/ab', '/b', '/b/a', '//', '//a', '/a/b/'];
  const PATHS = [
    '/',
    '',
    '*',
    '/a',
    '/a/',
    '/a/b',
    '/a/b/',
    '/a/b/c/d',
    '/ab',
    '/abc',
    '/a?x=/b',
    '/a/b?q',
    '/a//b',
    '//',
    '//a/x',
    '/b/a/',
    '/c?a',
  ];
  const METHODS = [undefined, ['GET'], ['POST'], ['GET', 'POST']] as const;
  const spec = fc.record({
    prefix: fc.constantFrom(...PREFIXES),
    methods: fc.constantFrom(...METHODS),
  });
  fc.assert(
    fc.property(
      fc.array(spec, { minLength: 17, maxLength: 60 }),
      fc.constantFrom(...PATHS),
      fc.constantFrom('GET', 'POST', 'PUT'),
      (specs, path, method) => {
        const routes = specs.map(({ prefix, methods }, index) => ({
          ...route(index, prefix, 'api.example'),
          ...(methods === undefined ? {} : { conditions: { methods: [...methods], headers: [], query: [] } }),
        }));
        const picked = createRouter(routes).match('api.example', path, { method, headers: {} });
        const meeting = routes.filter(
          (r) => matchesPrefix(r.path, path) && (r.conditions?.methods?.includes(method) ?? true),
        );
        meeting.sort(
          (a, b) =>
            b.path.length - a.path.length ||
            Number(b.conditions !== undefined) - Number(a.conditions !== undefined) ||
            a.index - b.index,
        );
        assert.equal(picked?.index, meeting[0]?.index, `${method} ${JSON.stringify(path)}`);
      },
    ),
    { numRuns: 2000 },
  );
});
