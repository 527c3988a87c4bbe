/**
 * route_defaults: every route takes the fields it does not write itself (its own wins whole),
 * a route that forwards nothing takes none of what it could not use, and a problem in a default
 * is told once, at route_defaults.<field> and its line, not once per route.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { DEFAULTS } from '../../../src/core/config/defaults.ts';
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

// The warning of a route left unnamed that is renamed `<host><path>#<index>` names the earlier
// route of that name (`routes[0]'s too`), and so it was not given `for routes[N]` at
// route_defaults: "this route is named '/a#1'" named no route, the one renamed left to be found.
test("a default's warning that names another route still names the route it is told for", () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    `listen:
  - address: 127.0.0.1:8080
route_defaults:
  rate_limit: { rate: 5 }
routes:
  - match: { path: /a }
    upstream: api
  - match: { path: /a, methods: [POST] }
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
    warnings.map((w) => `${w.line} ${w.path}: ${w.message}`),
    [
      "4 route_defaults.rate_limit: for routes[1], route name '/a' (a route without a name is named <host><path>) is routes[0]'s too, and both have a rate_limit, which the gateway keeps by the route's name: this route is named '/a#1' so that it has its own; give it a name to choose another",
    ],
  );
});

// The docs tell a route without auth to take out the fields another route's auth writes
// (`request_headers: { remove: [X-User-Id] }`): written once in route_defaults, the rule reached
// the route with the auth as well, and ran after it, so its upstream was never told the user.
test("a default request rule that takes out a field a route's own auth writes is warned of once, naming the route", () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(
    `listen:
  - address: 127.0.0.1:8080
route_defaults:
  request_headers: { remove: [X-User-Id] }
routes:
  - match: { path: /public }
    upstream: api
  - match: { path: /app }
    upstream: api
    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app], claims_to_headers: { sub: X-User-Id } } }
  - match: { path: /own }
    upstream: api
    request_headers: {}
    auth: { jwt: { jwks_url: "https://idp.test/jwks", audiences: [app], claims_to_headers: { sub: X-User-Id } } }
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
    warnings.map((w) => `${w.line} ${w.path}: ${w.message}`),
    [
      "4 route_defaults.request_headers.remove: for routes[1], x-user-id is written by the route's auth.jwt.claims_to_headers, and this default's remove takes it out after: the upstream is never told it; give the route request_headers of its own (request_headers: {} takes none of the default's)",
    ],
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

// A route could not turn off a default: `cache: null`, `cors: ~` are refused ("got nothing"), and
// a POST-only route, an API that must never be cached, a stream that must not be compressed all
// took the default's. `false` takes none of it, as nginx's `proxy_cache off;` in a location.
test('a route writing false for a default field takes none of it, and candor check lists it as turned off', () => {
  const taken: string[] = [];
  const warnings: ConfigProblem[] = [];
  const loaded = parseConfig(
    config(`  response_headers: { set: { X-Frame-Options: DENY } }
  compression: { min_size: 10 }
  cache: {}
  cors: { origins: [https://app.example.com] }
  rate_limit: { rate: 5 }
  limits: { body: 1KiB }
  request_headers: { set: { X-Default: "1" } }
  timeouts: { response: 2s }
`).replace(
      '    response_headers: { set: { X-Own: "1" } }\n',
      '    response_headers: false\n    request_headers: false\n    compression: false\n    cache: false\n    cors: false\n    rate_limit: false\n    limits: false\n    timeouts: false\n',
    ),
    SOURCE,
    {},
    {
      warnings,
      onRouteDefaults: (route, name, fields) => taken.push(`${route.path} ${name}: ${fields.join(', ')}`),
    },
  );
  const [plain, own, moved] = loaded.routes;
  assert.equal(plain.compression?.minSize, 10);
  assert.notEqual(plain.cache, undefined);
  assert.notEqual(plain.access?.cors, undefined);
  assert.equal(plain.rateLimit?.rate, 5);
  assert.equal(plain.limits.body, 1024);
  assert.equal(plain.timeouts?.api.response, 2000);
  // Turned off: none, as a route the defaults never reached; limits and timeouts the gateway's and the upstream's.
  assert.equal(own.responseHeaders, undefined);
  assert.equal(own.requestHeaders, undefined);
  assert.equal(own.compression, undefined);
  assert.equal(own.cache, undefined);
  assert.equal(own.access?.cors, undefined);
  assert.equal(own.rateLimit, undefined);
  assert.equal(own.limits.body, DEFAULTS.route.limits.body);
  assert.equal(own.timeouts, undefined);
  assert.notEqual(moved.responseHeaders, undefined);
  assert.deepEqual(taken, [
    'routes[0] plain: request_headers, response_headers, compression, cache, cors, limits, rate_limit, timeouts',
    'routes[1] own: no request_headers (request_headers: false), no response_headers (response_headers: false), no compression (compression: false), no cache (cache: false), no cors (cors: false), no limits (limits: false), no rate_limit (rate_limit: false), no timeouts (timeouts: false)',
    'routes[2] moved: response_headers, cors, limits',
  ]);
  assert.deepEqual(warnings, []);
});

test('a bare null is no off: a mis-indented cors: is still refused, not read as none, and says to write false', () => {
  const problems = problemsOf(
    config('  cors: { origins: [https://app.example.com] }\n').replace(
      '    response_headers: { set: { X-Own: "1" } }\n',
      '    cors:\n    compression: ~\n    cache: off\n',
    ),
  ).map((p) => `${p.path}: ${p.message.slice(0, 28)}`);
  assert.deepEqual(problems, [
    'routes[1].cors: expected a mapping with orig',
    'routes[1].compression: expected a mapping with enco',
    'routes[1].cache: expected a mapping with max_',
  ]);
  // Each says how to write off, where there is a default to turn off.
  const told = problemsOf(
    config('  cors: { origins: [https://app.example.com] }\n  cache: {}\n').replace(
      '    response_headers: { set: { X-Own: "1" } }\n',
      '    cors:\n    cache: off\n    compression: off\n',
    ),
  ).map((p) => `${p.path}: ${p.message.slice(p.message.indexOf(', got'))}`);
  assert.deepEqual(told, [
    'routes[1].cors: , got nothing; to take no route_defaults.cors here, write cors: false',
    'routes[1].cache: , got "off"; to take no route_defaults.cache here, write cache: false',
    'routes[1].compression: , got "off"',
  ]);
});

test('false with no default to turn off loads, and candor check warns that it does nothing', () => {
  const warnings: ConfigProblem[] = [];
  const loaded = parseConfig(
    config('  compression: {}\n')
      .replace('    response_headers: { set: { X-Own: "1" } }\n', '    cache: false\n')
      .replace(
        '    redirect: { location: "https://example.com/" }\n',
        '    redirect: { location: "https://example.com/" }\n    compression: false\n',
      ),
    SOURCE,
    {},
    { warnings },
  );
  assert.equal(loaded.routes[1].cache, undefined);
  assert.deepEqual(
    warnings.map((w) => `${w.line} ${w.path}: ${w.message}`),
    [
      '12 routes[1].cache: cache: false turns off route_defaults.cache, which this config does not write: it does nothing here',
      '16 routes[2].compression: a redirect takes no route_defaults.compression: compression: false does nothing here',
    ],
  );
});

test('the POST-only warning of a default cache says how to take none: cache: false on the route', () => {
  const warnings: ConfigProblem[] = [];
  const text = (own: string) => `listen:
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
${own}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;
  parseConfig(text(''), SOURCE, {}, { warnings });
  assert.deepEqual(
    warnings.map((w) => `${w.line} ${w.path}: ${w.message}`),
    [
      '4 route_defaults.cache: for routes[1], the route matches only POST, and only the answers to GET and HEAD are stored: this cache never stores or serves an answer; match GET too, or write cache: false on the route to take no route_defaults.cache',
    ],
  );
  // Written so, nothing is left to warn of.
  const after: ConfigProblem[] = [];
  const loaded = parseConfig(text('    cache: false\n'), SOURCE, {}, { warnings: after });
  assert.deepEqual(after, []);
  assert.equal(loaded.routes[1].cache, undefined);
  // A route's own cache still says to remove it.
  const own: ConfigProblem[] = [];
  parseConfig(text('    cache: { max_size: 1MiB }\n'), SOURCE, {}, { warnings: own });
  assert.match(own[0]?.message ?? '', /match GET too, or remove the cache$/);
  assert.equal(own[0]?.path, 'routes[1].cache');
});
