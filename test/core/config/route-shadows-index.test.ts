/**
 * The index checkShadows weighs each route through (route-shadows.ts's ClaimIndex) gives, for
 * every route, exactly the routes whose host meets its host and whose path covers its path or
 * is covered by it, in file order: what every route was compared with before, one by one, so
 * the problems `candor check` finds are the same, in the same words, for thousands of routes
 * checked in linear time rather than quadratic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Claim, ClaimIndex, hostCovers, prefixCovers } from '../../../src/core/config/route-shadows.ts';

const HOSTS = [
  undefined,
  'example.com',
  'a.example.com',
  'b.a.example.com',
  'xa.example.com',
  '*.example.com',
  '*.a.example.com',
  '*.com',
  'other.test',
];
const PATHS = ['/', '/v1', '/v1/', '/v1/x', '/v1/x/y', '/v10', '/v1x', '/v2', '//', '//a', '/v1/x/'];

const claimOf = (host: string | undefined, path: string, index: number): Claim => ({
  index,
  where: ['routes', index],
  host,
  path,
  listeners: [],
  listenerTested: false,
  scheme: undefined,
  methods: undefined,
  headers: new Map(),
  query: new Map(),
});

const meet = (a: Claim, b: Claim) =>
  (hostCovers(a.host, b.host) || hostCovers(b.host, a.host)) &&
  (prefixCovers(a.path, b.path) || prefixCovers(b.path, a.path));

test('each route is given exactly the routes its requests could also meet by host and path, in file order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...HOSTS), fc.constantFrom(...PATHS)), { maxLength: 40 }),
      (specs) => {
        const claims = specs.map(([host, path], index) => claimOf(host, path, index));
        const index = new ClaimIndex(claims);
        for (const b of claims) {
          const expected = claims.filter((a) => meet(a, b)).map((a) => a.index);
          assert.deepEqual(
            index.near(b).map((a) => a.index),
            expected,
            `routes near ${b.host ?? '(any host)'}${b.path}`,
          );
        }
      },
    ),
    { numRuns: 500 },
  );
});
