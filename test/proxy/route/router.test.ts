import assert from 'node:assert/strict';
import { test } from 'node:test';
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
