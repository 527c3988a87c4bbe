/**
 * route_defaults: every route takes the fields it does not write itself (its own wins whole),
 * a route that forwards nothing takes none of what it could not use, and a problem in a default
 * is told once, at route_defaults.<field> and its line, not once per route.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const config = (defaults: string) => `listen:
  - address: 127.0.0.1:8080
route_defaults:
${defaults}routes:
  - name: plain
    match: { path: /a }
    upstream: api
  - name: own
    match: { path: /b }
    upstream: api
    response_headers: { set: { X-Own: "1" } }
  - name: moved
    match: { path: /c }
    redirect: { location: "https://example.com/" }
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;

test('each route takes the defaults it does not set; its own field replaces the default whole', () => {
  const taken: string[] = [];
  const loaded = parseConfig(
    config(`  response_headers: { set: { X-Frame-Options: DENY } }
  compression: { min_size: 10 }
  rate_limit: { rate: 5 }
`),
    SOURCE,
    {},
    {
      onRouteDefaults: (route, name, fields) =>
        taken.push(
          `${route.path}${route.file === undefined ? '' : ` (${route.file})`} ${name}: ${fields.join(', ')}`,
        ),
    },
  );
  const [plain, own, moved] = loaded.routes;
  const names = (rules: typeof plain.responseHeaders) =>
    rules?.set.map((rule) => `${rule.name}: ${rule.value}`);
  assert.deepEqual(names(plain.responseHeaders), ['X-Frame-Options: DENY']);
  assert.equal(plain.compression?.minSize, 10);
  assert.equal(plain.rateLimit?.rate, 5);
  // Replaced, not merged: the route's own rules alone.
  assert.deepEqual(names(own.responseHeaders), ['X-Own: 1']);
  assert.equal(own.compression?.minSize, 10);
  // A redirect takes the header rules, not the compression or rate limit it could not use.
  assert.deepEqual(names(moved.responseHeaders), ['X-Frame-Options: DENY']);
  assert.equal(moved.compression, undefined);
  assert.equal(moved.rateLimit, undefined);
  assert.deepEqual(taken, [
    'routes[0] plain: response_headers, compression, rate_limit',
    'routes[1] own: compression, rate_limit',
    'routes[2] moved: response_headers',
  ]);
});

test('a problem in a default is told once, at route_defaults, its line and field', () => {
  const problems = problemsOf(
    config(`  cors: { origins: [bad] }
  compression: { encodings: [lzma] }
  retries: { attempts: 2 }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message.slice(0, 40)}`);
  assert.deepEqual(problems, [
    '4 route_defaults.cors.origins[0]: expected an origin in lower case like ht',
    '5 route_defaults.compression.encodings[0]: expected one of zstd, br, gzip, got "lzm',
    "6 route_defaults.retries: unknown field 'retries' (known fields: r",
  ]);
});

test("a default's request rule writing RFC 9440's Client-Cert is refused once, at route_defaults", () => {
  const problems = problemsOf(
    config(`  request_headers: { set: { Client-Cert: ":Zm9yZ2Vk:" } }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    "4 route_defaults.request_headers.set.Client-Cert: client-cert is RFC 9440's, which Candor writes for a verified client certificate (its DER as :base64:): name another field",
  ]);
});

test("a default's warning is told once, at route_defaults, not once for each route that took it", () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    config(`  response_headers: { set: { Strict-Transport-Security: max-age=31536000 } }
`),
    SOURCE,
    {},
    { warnings },
  );
  assert.deepEqual(
    warnings.map((w) => `${w.line} ${w.path}: ${w.message.slice(0, 52)}`),
    ['4 route_defaults.response_headers: for routes[0], Strict-Transport-Security goes out on'],
  );
});

// A default that is wrong for one route alone (a cache on a route that matches only POST) was
// told at route_defaults.cache as "the route matches only POST": which route, the reader had to
// find among them all. A default's warning names the first route it is told for, as its timeouts
// problem does (`for routes[0] of conf.d/slow.yaml, …`), and is still told once.
test("a default's warning names the first route it is told for, once", () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    `listen:
  - address: 127.0.0.1:8080
route_defaults:
  cache: {}
routes:
  - name: site
    match: { path: /a }
    upstream: api
  - name: forms
    match: { path: /forms, methods: [POST] }
    upstream: api
  - name: uploads
    match: { path: /uploads, methods: [POST] }
    upstream: api
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`,
    SOURCE,
    {},
    { warnings },
  );
  assert.deepEqual(
    warnings.map((w) => `${w.line} ${w.path}: ${w.message.slice(0, 42)}`),
    ['4 route_defaults.cache: for routes[1], the route matches only POST'],
  );
});

// A default rate limit by `identity` is right for a route with auth and wrong for one without:
// told at route_defaults as "this route has no auth", it named no route the reader could find.
test('a default rate limit by identity names the first route without auth it is wrong for', () => {
  const problems = problemsOf(
    config(`  rate_limit: { rate: 10, key: identity }
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    "4 route_defaults.rate_limit.key: for routes[0], identity is the user the route's auth admitted, and this route has no auth: every request would be limited by its address",
  ]);
});
