/**
 * `routes[].timeouts` over the upstream's, key by key, and `route_defaults.timeouts` as their
 * default, key by key too (a route's own keys win, the default's others stay): what the config
 * hands the runtime, and the order the merged set must keep, told at the route's field and line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const config = (routes: string, upstream = '', defaults = '') => `listen:
  - address: 127.0.0.1:8080
${defaults === '' ? '' : `route_defaults:\n${defaults}`}routes:
${routes}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
${upstream}`;

test("a route's timeouts replace its upstream's key by key, for its own requests only", () => {
  const loaded = parseConfig(
    config(
      `  - name: fast
    match: { path: /fast }
    upstream: api
    timeouts: { response: 500ms, tunnel_idle: 1m, tunnel_half_closed: 5s }
  - name: plain
    match: { path: /plain }
    upstream: api
`,
      '    timeouts: { connect: 1s, response: 10s, read: 10s, total: 40s }\n',
    ),
    SOURCE,
  );
  const [fast, plain] = loaded.routes;
  assert.deepEqual(fast.timeouts?.api, {
    connect: 1000,
    response: 500,
    read: 10_000,
    send: 30_000,
    total: 40_000,
    totalIncludesBody: false,
    tunnelIdle: 60_000,
    tunnelHalfClosed: 5000,
    // No per_try_timeout written: each attempt's wait for its head is the route's response timeout.
    exchange: { head: 500, headName: 'response timeout', read: 10_000, send: 30_000 },
  });
  assert.equal(plain.timeouts, undefined);
  // The upstream's own stay as they were: its pool, health checks and circuit are every route's.
  assert.equal(loaded.upstreams.api.timeouts.response, 10_000);
});

test("an upstream's written per_try_timeout still bounds each attempt under a route's longer response timeout", () => {
  const loaded = parseConfig(
    config(
      '  - { match: { path: / }, upstream: api, timeouts: { response: 10s } }\n',
      '    retries: { per_try_timeout: 2s }\n',
    ),
    SOURCE,
  );
  assert.deepEqual(loaded.routes[0].timeouts?.api.exchange, {
    head: 2000,
    headName: 'per-try timeout',
    read: 30_000,
    send: 30_000,
  });
});

test("route_defaults.timeouts is taken key by key: a route's own keys win, the default's others stay", () => {
  const taken: string[] = [];
  const loaded = parseConfig(
    config(
      `  - name: plain
    match: { path: /a }
    upstream: api
  - name: own
    match: { path: /b }
    upstream: api
    timeouts: { response: 30s }
  - name: moved
    match: { path: /c }
    redirect: { location: "https://example.com/" }
`,
      '',
      '  timeouts: { connect: 1s, response: 5s }\n',
    ),
    SOURCE,
    {},
    { onRouteDefaults: (route, name, fields) => taken.push(`${route.path} ${name}: ${fields.join(', ')}`) },
  );
  const [plain, own, moved] = loaded.routes;
  assert.equal(plain.timeouts?.api.connect, 1000);
  assert.equal(plain.timeouts?.api.response, 5000);
  assert.equal(own.timeouts?.api.connect, 1000);
  assert.equal(own.timeouts?.api.response, 30_000);
  // A redirect forwards nothing: no timeout to take.
  assert.equal(moved.timeouts, undefined);
  assert.deepEqual(taken, ['routes[0] plain: timeouts', 'routes[1] own: timeouts.connect']);
});

test("a route's total below the response timeout it runs on is refused at the route's field and line", () => {
  const problems = problemsOf(
    config(
      `  - name: short
    match: { path: /a }
    upstream: api
    timeouts:
      total: 1s
  - name: long
    match: { path: /b }
    upstream: api
    timeouts: { response: 90s }
`,
      '    timeouts: { response: 5s }\n',
    ),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    "8 routes[0].timeouts.total: timeouts.total (1s, the route's) must be at least timeouts.response (5s, the upstream's) for the requests this route sends to upstream 'api': the whole exchange cannot end before its response head is allowed to arrive",
    "12 routes[1].timeouts.response: timeouts.total (1m, the default) must be at least timeouts.response (90s, the route's) for the requests this route sends to upstream 'api': the whole exchange cannot end before its response head is allowed to arrive",
  ]);
});

test("a route's total below the response it took from route_defaults names route_defaults and its line", () => {
  const problems = problemsOf(
    config(
      '  - { match: { path: /a }, upstream: api, timeouts: { total: 10s } }\n',
      '',
      '  timeouts:\n    response: 30s\n',
    ),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    "7 routes[0].timeouts.total: timeouts.total (10s, the route's) must be at least timeouts.response (30s, route_defaults.timeouts.response at line 5) for the requests this route sends to upstream 'api': the whole exchange cannot end before its response head is allowed to arrive",
  ]);
});

test('a default total below a response timeout is told once, at route_defaults and its line', () => {
  const problems = problemsOf(
    config(
      `  - { match: { path: /a }, upstream: api }
  - { match: { path: /b }, upstream: api }
`,
      '',
      '  timeouts: { total: 10s }\n',
    ),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    "4 route_defaults.timeouts.total: for routes[0], timeouts.total (10s, route_defaults.timeouts.total at line 4) must be at least timeouts.response (30s, the default) for the requests this route sends to upstream 'api': the whole exchange cannot end before its response head is allowed to arrive",
  ]);
});

test('a route that redirects or serves files refuses timeouts: it forwards nothing', () => {
  const problems = problemsOf(
    config(`  - match: { path: /c }
    redirect: { location: "https://example.com/" }
    timeouts: { response: 1s }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    '6 routes[0].timeouts: a route that redirects forwards nothing: timeouts has nothing to apply to',
  ]);
});

test("a route's timeouts that leave its upstream's per-try timeout or hold nothing to do are warned at the route's field", () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    config(
      '  - { match: { path: / }, upstream: api, timeouts: { response: 1s, total: 2s } }\n',
      '    retries: { per_try_timeout: 3s }\n    hold: { timeout: 5s }\n',
    ),
    SOURCE,
    {},
    { warnings },
  );
  assert.deepEqual(
    warnings.map((w) => `${w.line} ${w.path}: ${w.message.slice(0, 60)}`),
    [
      "4 routes[0].timeouts.response: 1s is below upstream 'api's retries.per_try_timeout (3s): ea",
      "4 routes[0].timeouts.total: 2s is not above upstream 'api's hold.timeout (5s): a request",
    ],
  );
});

test('tunnel_half_closed is a duration at each level; one above tunnel_idle is allowed (the smaller applies)', () => {
  const loaded = parseConfig(
    config(
      '  - { match: { path: /a }, upstream: api }\n',
      '    timeouts: { tunnel_idle: 1m, tunnel_half_closed: 2m }\n',
    ),
    SOURCE,
  );
  assert.equal(loaded.upstreams.api.timeouts.tunnelHalfClosed, 120_000);
  const problems = problemsOf(
    config(
      '  - { match: { path: /a }, upstream: api, timeouts: { tunnel_half_closed: soon } }\n',
      '    timeouts: { tunnel_half_closed: -1s }\n',
      '  timeouts: { tunnel_half_closed: 3 parsecs }\n',
    ),
  ).map((p) => p.path);
  assert.deepEqual(problems.sort(), [
    'route_defaults.timeouts.tunnel_half_closed',
    'routes[0].timeouts.tunnel_half_closed',
    'upstreams.api.timeouts.tunnel_half_closed',
  ]);
});

test("send is a duration at each level, its problems told at the field and line; a route's replaces its upstream's", () => {
  const loaded = parseConfig(
    config(
      '  - { match: { path: /a }, upstream: api, timeouts: { send: 2s } }\n  - { match: { path: /b }, upstream: api }\n',
      '    timeouts: { send: 5s }\n',
      '  timeouts: { read: 9s }\n',
    ),
    SOURCE,
  );
  assert.equal(loaded.upstreams.api.timeouts.send, 5000);
  assert.equal(loaded.routes[0].timeouts?.api.send, 2000);
  assert.equal(loaded.routes[0].timeouts?.api.exchange.send, 2000);
  // route_defaults.timeouts without send: the upstream's stays for the route that took it.
  assert.equal(loaded.routes[1].timeouts?.api.exchange.send, 5000);
  assert.equal(
    parseConfig(config('  - { match: { path: /a }, upstream: api }\n'), SOURCE).upstreams.api.timeouts.send,
    30_000,
  );
  const problems = problemsOf(
    config(
      '  - { match: { path: /a }, upstream: api, timeouts: { send: soon } }\n',
      '    timeouts: { send: -1s }\n',
      '  timeouts: { send: 3 parsecs }\n',
    ),
  );
  assert.deepEqual(problems.map((p) => `${p.file}:${p.line} ${p.path}`).sort(), [
    `${SOURCE}:11 upstreams.api.timeouts.send`,
    `${SOURCE}:4 route_defaults.timeouts.send`,
    `${SOURCE}:6 routes[0].timeouts.send`,
  ]);
});
