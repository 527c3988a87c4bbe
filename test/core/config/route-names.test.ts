/**
 * Two routes of one name (written, or the default `<host><path>` that routes told apart by method
 * share) that both have a part the gateway keeps by route name: a split or canary (requests to the
 * first went to the second's upstreams), a rate_limit (one bucket, at one of the two rates, in a
 * cluster or with store.redis), a cache (one store), a max_in_flight (one count after a reload).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { problemsOf, SOURCE, withRoutes } from './config-fixture.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

const SPLIT_WHY =
  'both would draw from one of the two splits, one route\'s requests going to the other\'s upstreams (and a canary is driven by it: POST /canary/rollback {"route": NAME})';
const shared = (name: string, first: number, what: string, why: string) =>
  `route name '${name}' is routes[${first}]'s too, and both have ${what}: the gateway keeps it by the route's name, so ${why}; give each its own name`;
const renamedTo = (name: string, first: number, what: string, rename: string) =>
  `route name '${name}' (a route without a name is named <host><path>) is routes[${first}]'s too, and both have ${what}, which the gateway keeps by the route's name: this route is named '${rename}' so that it has its own; give it a name to choose another`;
const lines = (text: string) => problemsOf(text).map((p) => `${p.line} ${p.path}: ${p.message}`);

test('two routes of one written name that both have a split or canary, a rate_limit, a cache or a max_in_flight: refused at the second', () => {
  const text = withRoutes(`  - name: pages
    match: { path: /a }
    upstream: api
    canary: { upstream: api-next }
  - name: pages
    match: { path: /b }
    split: [{ upstream: api }, { upstream: api-next }]
  - { name: slow, match: { path: /s }, upstream: api, max_in_flight: 1 }
  - { name: slow, match: { path: /t }, upstream: api, max_in_flight: 100 }
`);
  assert.deepEqual(lines(text), [
    `8 routes[1].name: ${shared('pages', 0, 'a split or a canary', SPLIT_WHY)}`,
    `12 routes[3].name: ${shared('slow', 2, 'a max_in_flight', 'after a reload both would count against one bound')}`,
  ]);
});

test('an unnamed route whose <host><path> another route with the same kept part holds gets a name of its own, said by a warning', () => {
  const warnings: ConfigProblem[] = [];
  const config = parseConfig(
    withRoutes(`  - match: { path: /api, methods: [GET] }
    upstream: api
    rate_limit: { rate: 1, burst: 1 }
    cache: {}
  - match: { path: /api }
    upstream: api
    rate_limit: { rate: 100, burst: 100 }
    cache: {}
  - { name: '/api#1', match: { path: /other }, upstream: api }
  - { match: { path: /api, methods: [DELETE] }, upstream: api }
`),
    SOURCE,
    {},
    { warnings },
  );
  // The second is /api#1#1 (/api#1 is taken); the third, with no kept part, keeps the default.
  assert.deepEqual(
    config.routes.map((route) => route.name),
    ['/api', '/api#1#1', '/api#1', '/api'],
  );
  assert.deepEqual(
    warnings.map((w) => `${w.line} ${w.path}: ${w.message}`),
    [
      `10 routes[1].rate_limit: ${renamedTo('/api', 0, 'a rate_limit', '/api#1#1')}`,
      `11 routes[1].cache: ${renamedTo('/api', 0, 'a cache', '/api#1#1')}`,
    ],
  );
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

test('two routes of one name with different upstreams: a warning, since the admin API and the metrics take them as one', () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    withRoutes(`  - { name: pages, match: { path: /a }, upstream: api }
  - { name: pages, match: { path: /b }, upstream: api-next }
  - { match: { path: /c, methods: [GET] }, upstream: api-next }
  - { match: { path: /c }, upstream: api }
  - { name: same, match: { path: /d }, upstream: api }
  - { name: same, match: { path: /e }, upstream: api }
`),
    SOURCE,
    {},
    { warnings },
  );
  const why =
    "the admin API's GET /status shows one route of that name (the last), the metrics' route label and the log's route field count the two as one, and PUT /routes/maintenance acts on both; give each its own name";
  assert.deepEqual(
    warnings.map((w) => `${w.line} ${w.path}: ${w.message}`),
    [
      `5 routes[1].upstream: route name 'pages' is routes[0]'s too, with another upstream ('api', here 'api-next'): ${why}`,
      `7 routes[3].upstream: route name '/c' (a route without a name is named <host><path>) is routes[2]'s too, with another upstream ('api-next', here 'api'): ${why}`,
    ],
  );
});

test('candor check exits 78 naming the second route', () => {
  const file = join(tempDir('candor-route-names-'), 'candor.yaml');
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
    `${file}:5:7  routes[1].name: ${shared('pages', 0, 'a split or a canary', SPLIT_WHY)}\n1 problem in ${file}\n`,
  );
});
