/**
 * `store` and `upstreams.*.discovery`: what several gateways add to the file, checked as
 * strictly as the rest (unknown keys with a did-you-mean, one problem per line, defaults filled).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problem, problemsOf, SOURCE } from './config-fixture.ts';

const HEAD = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
`;

test('store.redis and discovery are normalised with their defaults', () => {
  const config = parseConfig(
    `${HEAD}store:
  redis: { url: "rediss://:\${PW}@redis.internal:6380/2" }
upstreams:
  api:
    discovery: { dns: api.default.svc.cluster.local, port: 3001, resolvers: [10.96.0.10:53, "[fd00::a]:53"] }
  srv:
    discovery: { dns: _http._tcp.api.internal, type: SRV, scheme: https, interval: 10s, min_ttl: 2s, max_ttl: 2m, allow: [169.254.0.0/16, "::1"], max_targets: 64 }
`,
    SOURCE,
    { PW: 's3cret' },
  );
  assert.deepEqual(config.store, {
    redis: {
      url: 'rediss://:s3cret@redis.internal:6380/2',
      onError: 'allow',
      timeout: 50,
      prefix: 'candor:',
    },
  });
  assert.deepEqual(config.upstreams.api.targets, []);
  assert.deepEqual(config.upstreams.api.discovery, {
    dns: 'api.default.svc.cluster.local',
    type: 'A',
    port: 3001,
    scheme: 'http',
    resolvers: ['10.96.0.10:53', '[fd00::a]:53'],
    interval: 5000,
    minTtl: 1000,
    maxTtl: 60000,
    allow: [],
    maxTargets: 512,
  });
  assert.deepEqual(config.upstreams.srv.discovery, {
    dns: '_http._tcp.api.internal',
    type: 'SRV',
    scheme: 'https',
    resolvers: [],
    interval: 10000,
    minTtl: 2000,
    maxTtl: 120000,
    allow: ['169.254.0.0/16', '::1'],
    maxTargets: 64,
  });
});

test('discovery.allow takes addresses and CIDR blocks, discovery.max_targets 1 to 10000', () => {
  const text = `${HEAD}upstreams:
  api:
    discovery: { dns: api.internal, port: 80, allow: [metadata.internal], max_targets: 0 }
`;
  assert.deepEqual(problemsOf(text), [
    problem(
      7,
      55,
      'upstreams.api.discovery.allow[0]',
      'expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got "metadata.internal"',
    ),
    problem(
      7,
      88,
      'upstreams.api.discovery.max_targets',
      'expected a number of targets from 1 to 10000, got 0',
    ),
  ]);
});

test('bad store and discovery fields: each named at its line, with what was expected', () => {
  const text = `${HEAD}store:
  redis: { url: "http://127.0.0.1:6379", on_eror: deny }
upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
    discovery: { dns: "api internal", type: CNAME, port: 80, resolvers: [dns.google:53], min_ttl: 9s, max_ttl: 3s }
  b:
    discovery: { dns: b.internal }
  c:
    discovery: { dns: _x._tcp.c.internal, type: SRV, port: 80 }
  d:
    balancer: round_robin
`;
  assert.deepEqual(problemsOf(text), [
    problem(6, 17, 'store.redis.url', 'expected a redis:// or rediss:// URL, got "http://127.0.0.1:6379"'),
    problem(6, 42, 'store.redis.on_eror', "unknown field 'on_eror' (did you mean 'on_error'?)"),
    problem(
      10,
      5,
      'upstreams.api.discovery',
      'targets and discovery cannot both be set: the targets are either written or found by DNS',
    ),
    problem(
      10,
      23,
      'upstreams.api.discovery.dns',
      'expected a DNS name like api.internal or _http._tcp.api.internal, got "api internal"',
    ),
    problem(10, 45, 'upstreams.api.discovery.type', 'expected one of A, AAAA, SRV, got "CNAME"'),
    problem(
      10,
      74,
      'upstreams.api.discovery.resolvers[0]',
      'expected an IP address and port like 10.0.0.10:53 or [fd00::a]:53, got "dns.google:53"',
    ),
    problem(
      10,
      99,
      'upstreams.api.discovery.min_ttl',
      'discovery.min_ttl (9s) must not be above discovery.max_ttl (3s)',
    ),
    problem(
      12,
      5,
      'upstreams.b.discovery.port',
      "missing required field 'port': an A answer gives addresses, not the port the targets listen on",
    ),
    problem(14, 60, 'upstreams.c.discovery.port', 'SRV records carry their own ports: remove port'),
    problem(
      15,
      3,
      'upstreams.d.targets',
      "missing required field 'targets' (or 'discovery', to find them by DNS)",
    ),
  ]);
});

test("a bad store URL's problem never quotes its password (it would reach the log and the admin API's 400)", () => {
  for (const [url, shown] of [
    ['redis://:s3cret@127.0.0.1:6379/db', 'redis://:***@127.0.0.1:6379/db'],
    ['http://user:s3cret@127.0.0.1:6379', 'http://user:***@127.0.0.1:6379'],
    ['redis://:s3c@ret@127.0.0.1:bad', 'redis://:***@127.0.0.1:bad'],
    // An unescaped @ then / in the password: the URL parses (its host "r"), and only "s3c" was
    // hidden: `redis://:***@r/et@…` quoted the rest of it.
    ['redis://:s3c@r/et@127.0.0.1:6379', 'redis://:***@127.0.0.1:6379'],
    ['redis://u:s3c@r/e@t@127.0.0.1:6379/1', 'redis://u:***@127.0.0.1:6379/1'],
  ]) {
    const [found] = problemsOf(
      `${HEAD}store:\n  redis: { url: "${url}" }\nupstreams:\n  api:\n    targets: [{ url: http://127.0.0.1:3001 }]\n`,
    );
    assert.equal(found.path, 'store.redis.url', url);
    assert.ok(!JSON.stringify(found).includes('s3c'), JSON.stringify(found));
    assert.ok(found.message.includes(`"${shown}"`), found.message);
  }
});

test("a URL's password with a / in it (base64's), written unescaped, is not quoted either; nor is tracing.otlp_endpoint's", () => {
  // An unescaped / ends the authority, so the URL does not parse: its problem is the one that quotes it.
  const [store] = problemsOf(
    `${HEAD}store:\n  redis: { url: "redis://:Ab3/xYz+s3cret=@10.0.0.9:6379" }\nupstreams:\n  api:\n    targets: [{ url: http://127.0.0.1:3001 }]\n`,
  );
  assert.equal(store.path, 'store.redis.url');
  assert.ok(!JSON.stringify(store).includes('s3c'), JSON.stringify(store));
  assert.ok(store.message.includes('"redis://:***@10.0.0.9:6379"'), store.message);
  for (const [url, shown] of [
    ['http://otel:s3cret@127.0.0.1:99999/v1/traces', 'http://otel:***@127.0.0.1:99999/v1/traces'],
    ['http://otel:Ab/s3cret@127.0.0.1:4318/v1/traces', 'http://otel:***@127.0.0.1:4318/v1/traces'],
    ['ftp://otel:s3cret@127.0.0.1:4318/v1/traces', 'ftp://otel:***@127.0.0.1:4318/v1/traces'],
    ['http://otel:s3cret@127.0.0.1:4318', 'http://otel:***@127.0.0.1:4318'],
  ]) {
    const [found] = problemsOf(
      `${HEAD}tracing:\n  otlp_endpoint: "${url}"\nupstreams:\n  api:\n    targets: [{ url: http://127.0.0.1:3001 }]\n`,
    );
    assert.equal(found.path, 'tracing.otlp_endpoint', url);
    assert.ok(!JSON.stringify(found).includes('s3c'), JSON.stringify(found));
    assert.ok(found.message.includes(`"${shown}"`), found.message);
  }
});

test('discovery.resolvers: an IPv6 zone id (node:dns drops it) and an unspecified address (no server answers from it) are refused', () => {
  const text = `${HEAD}upstreams:
  api:
    discovery: { dns: api.internal, port: 80, resolvers: ["[fe80::1%eth0]:53", 0.0.0.0:53, "[::]:53", "[fe80::1]:53"] }
`;
  const at = (column: number, index: number, got: string, why: string) =>
    problem(7, column, `upstreams.api.discovery.resolvers[${index}]`, `${why}, got ${got}`);
  const zone =
    "a DNS server's IPv6 zone id is dropped by Node's resolver (it would ask the address with no interface, and fail): give a global or unique-local address";
  const unspecified =
    'an unspecified address is no DNS server: its answers come from another address, and are dropped';
  assert.deepEqual(problemsOf(text), [
    at(59, 0, '"[fe80::1%eth0]:53"', zone),
    at(80, 1, '"0.0.0.0:53"', unspecified),
    at(92, 2, '"[::]:53"', unspecified),
  ]);
});

test('discovery.resolvers: the unspecified address however it is spelt is refused (`::0`, eight zero groups, IPv4-mapped)', () => {
  const text = `${HEAD}upstreams:
  api:
    discovery: { dns: api.internal, port: 80, resolvers: ["[::0]:53", "[0:0:0:0:0:0:0:0]:53", "[::ffff:0.0.0.0]:53", "[::1]:53"] }
`;
  const unspecified =
    'an unspecified address is no DNS server: its answers come from another address, and are dropped';
  assert.deepEqual(
    problemsOf(text).map((p) => p.message),
    ['"[::0]:53"', '"[0:0:0:0:0:0:0:0]:53"', '"[::ffff:0.0.0.0]:53"'].map(
      (got) => `${unspecified}, got ${got}`,
    ),
  );
});

test('a store URL whose user or password holds a % that is no %XX escape is refused, as ioredis could not read it', () => {
  // ioredis percent-decodes both: `%pw` threw "URI malformed" at the start of candor serve, which check had passed.
  const store = (url: string) =>
    `${HEAD}store:\n  redis: { url: "${url}" }\nupstreams:\n  api:\n    targets: [{ url: http://127.0.0.1:3001 }]\n`;
  for (const [userinfo, shown] of [
    [':S3CRET%pw', ':***'],
    ['ops%:S3CRET', 'ops%:***'],
  ])
    assert.deepEqual(problemsOf(store(`redis://${userinfo}@10.0.0.9:6379`)), [
      problem(
        6,
        17,
        'store.redis.url',
        `a % in the URL's user or password starts no %XX escape (write a % as %25), got "redis://${shown}@10.0.0.9:6379"`,
      ),
    ]);
  // Escaped, it is the password ioredis sends: %25 is a %.
  assert.equal(
    parseConfig(store('redis://:S3CRET%25pw@10.0.0.9:6379'), SOURCE).store?.redis.url,
    'redis://:S3CRET%25pw@10.0.0.9:6379',
  );
});
