/**
 * A route's cache whose sizes could not do what they say is refused with its file, line and
 * field (issue 35); a max_entry left unwritten is never more than max_size.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const withRoutes = (routes: string) => `listen:
  - address: 127.0.0.1:8080
routes:
${routes}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;

test('a max_entry past max_size, and a max_disk without a dir, are refused on their line and field', () => {
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    cache: { max_size: 1KiB, max_entry: 1MiB }
  - match: { path: /b }
    upstream: api
    cache: { max_disk: 1GiB }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[0].cache.max_entry: an answer past max_size (1KiB) is never kept: expected a max_entry of at most that, got 1MiB',
      '9 routes[1].cache.max_disk: max_disk bounds the files of cache.dir: expected a dir beside it',
    ],
  );
});

test('a max_size under the default max_entry loads, max_entry then max_size', () => {
  const config = parseConfig(
    withRoutes(`  - match: { path: /a }
    upstream: api
    cache: { max_size: 512KiB }
  - match: { path: /b }
    upstream: api
    cache: { max_size: 2MiB, max_entry: 2MiB, dir: cache, max_disk: 4MiB }
`),
    SOURCE,
    {},
  );
  assert.equal(config.routes[0].cache?.maxEntry, 512 * 1024);
  assert.equal(config.routes[1].cache?.maxEntry, 2 * 1024 * 1024);
  assert.equal(config.routes[1].cache?.maxDisk, 4 * 1024 * 1024);
});

test('cache.lifetimes names statuses a cache may keep, as durations; override_origin needs them', () => {
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    cache: { lifetimes: { 200: 10m, 500: 1m } }
  - match: { path: /b }
    upstream: api
    cache: { lifetimes: { 404: soon } }
  - match: { path: /c }
    upstream: api
    cache: { override_origin: true }
`);
  const problems = problemsOf(text).map((p) => `${p.line} ${p.path}`);
  assert.deepEqual(problems, [
    '6 routes[0].cache.lifetimes.500',
    '9 routes[1].cache.lifetimes.404',
    '12 routes[2].cache.override_origin',
  ]);
  assert.match(
    problemsOf(text)[0].message,
    /200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501/,
  );
});

test('a lifetime of 0s is refused at its status: it would keep the answer stale from the start', () => {
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    cache: { lifetimes: { 200: 0s, 404: 0ms } }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    ['200', '404'].map(
      (status) =>
        `6 routes[0].cache.lifetimes.${status}: expected a lifetime above zero like 30s or 10m (0s would keep the answer stale from the start: leave the status out to give it none), got "${status === '200' ? '0s' : '0ms'}"`,
    ),
  );
});

test('a lifetime or a stale_while_revalidate under a second is refused: HTTP counts them in whole seconds, so it would be 0s', () => {
  // Read as max-age=0.5, which a cache takes as 0 (delta-seconds are whole, RFC 9111 §1.2.2): the
  // answer was kept stale from the start, every request went upstream (`fwd=stale`), and it stood
  // in for a failed upstream: what a lifetime of 0s is refused for. A stale_while_revalidate of
  // 500ms was none at all, without a word.
  const text = withRoutes(`  - match: { path: /a }
    upstream: api
    cache: { lifetimes: { 200: 500ms, 404: 999ms, 410: 1000ms }, stale_while_revalidate: 900ms }
  - match: { path: /b }
    upstream: api
    cache: { stale_while_revalidate: 0ms }
`);
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`),
    [
      '6 routes[0].cache.lifetimes.200: expected a lifetime of a second or more like 30s or 10m (HTTP counts freshness in whole seconds: "500ms" would be 0s, keeping the answer stale from the start), got "500ms"',
      '6 routes[0].cache.lifetimes.404: expected a lifetime of a second or more like 30s or 10m (HTTP counts freshness in whole seconds: "999ms" would be 0s, keeping the answer stale from the start), got "999ms"',
      '6 routes[0].cache.stale_while_revalidate: expected 0s or a duration of a second or more like 30s or 5m (HTTP counts staleness in whole seconds: "900ms" would be none), got "900ms"',
    ],
  );
  const defaults = `listen:
  - address: 127.0.0.1:8080
route_defaults:
  cache: { lifetimes: { 200: 100ms }, stale_while_revalidate: 10ms }
routes:
  - upstream: api
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;
  assert.deepEqual(
    problemsOf(defaults).map((p) => `${p.line} ${p.path}`),
    ['4 route_defaults.cache.lifetimes.200', '4 route_defaults.cache.stale_while_revalidate'],
  );
});

test('cache.lifetimes, override_origin and stale_while_revalidate load as seconds by status', () => {
  const config = parseConfig(
    withRoutes(`  - match: { path: /a }
    upstream: api
    cache: { lifetimes: { 200: 10m, 404: 1500ms }, override_origin: true, stale_while_revalidate: 30s }
  - match: { path: /b }
    upstream: api
    cache: {}
`),
    SOURCE,
    {},
  );
  assert.deepEqual(config.routes[0].cache?.lifetimes, { 200: 600, 404: 1.5 });
  assert.equal(config.routes[0].cache?.overrideOrigin, true);
  assert.equal(config.routes[0].cache?.staleWhileRevalidate, 30);
  assert.deepEqual(config.routes[1].cache?.lifetimes, {});
  assert.equal(config.routes[1].cache?.overrideOrigin, false);
  assert.equal(config.routes[1].cache?.staleWhileRevalidate, 0);
});
