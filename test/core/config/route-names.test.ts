/**
 * Two routes of one name (written, or the default `<host><path>` that routes told apart by method
 * share) that both have a part the gateway keeps by route name: a split or canary (requests to the
 * first went to the second's upstreams), a rate_limit (one bucket, at one of the two rates, in a
 * cluster or with store.redis), a cache (one store), a max_in_flight (one count after a reload).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE, withRoutes } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

const SPLIT_WHY =
  'both would draw from one of the two splits, one route\'s requests going to the other\'s upstreams (and a canary is driven by it: POST /canary/rollback {"route": NAME})';
const shared = (name: string, first: number, unnamed: boolean, what: string, why: string) =>
  `route name '${name}' is routes[${first}]'s too${unnamed ? ' (a route without a name is named <host><path>)' : ''}, and both have ${what}: the gateway keeps it by the route's name, so ${why}; give each its own name`;
const lines = (text: string) => problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`);

test('two routes of one name that both have a split or canary, a rate_limit, a cache or a max_in_flight: refused at the second', () => {
  const text = withRoutes(`  - name: pages
    match: { path: /a }
    upstream: api
    canary: { upstream: api-next }
  - name: pages
    match: { path: /b }
    split: [{ upstream: api }, { upstream: api-next }]
  - match: { path: /api, methods: [POST] }
    upstream: api
    rate_limit: { rate: 1, burst: 1 }
    cache: {}
  - match: { path: /api }
    upstream: api
    rate_limit: { rate: 100, burst: 100 }
    cache: {}
  - { name: slow, match: { path: /s }, upstream: api, max_in_flight: 1 }
  - { name: slow, match: { path: /t }, upstream: api, max_in_flight: 100 }
`);
  assert.deepEqual(lines(text), [
    `8 routes[1].name: ${shared('pages', 0, false, 'a split or a canary', SPLIT_WHY)}`,
    `17 routes[3].rate_limit: ${shared('/api', 2, true, 'a rate_limit', 'with workers or store.redis both would draw from one bucket per client, at one of the two rates')}`,
    `18 routes[3].cache: ${shared('/api', 2, true, 'a cache', 'both would use one store, with one of the two settings (and a purge names it)')}`,
    `20 routes[5].name: ${shared('slow', 4, false, 'a max_in_flight', 'after a reload both would count against one bound')}`,
  ]);
});

test('a name shared where only one of the routes has the part is no problem', () => {
  parseConfig(
    withRoutes(`  - { name: pages, match: { path: /a }, upstream: api, canary: { upstream: api-next } }
  - { name: pages, match: { path: /b }, upstream: api, rate_limit: { rate: 1, burst: 1 } }
  - { match: { path: /c, methods: [GET] }, upstream: api, cache: {} }
  - { match: { path: /c }, upstream: api }
`),
    SOURCE,
    {},
  );
});

test('candor check exits 78 naming the second route', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'candor-route-names-')), 'candor.yaml');
  writeFileSync(
    file,
    withRoutes(`  - { name: pages, match: { path: /a }, upstream: api, canary: { upstream: api-next } }
  - { name: pages, match: { path: /b }, upstream: api-next, canary: { upstream: api } }
`),
  );
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  assert.equal(run.status, 78);
  assert.equal(
    run.stderr,
    `${file}:5:7  routes[1].name: ${shared('pages', 0, false, 'a split or a canary', SPLIT_WHY)}\n1 problem in ${file}\n`,
  );
});
