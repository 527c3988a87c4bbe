import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problem, problemsOf, SOURCE, UPSTREAM_AND_ROUTE, withRoutes } from './config-fixture.ts';

/** A valid config with `upstream` as the body of upstream "api" (indented four spaces). */
function withUpstream(upstream: string): string {
  return `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
upstreams:
  api:
${upstream}`;
}

const TARGET = `    targets:
      - url: http://127.0.0.1:3001
`;

test('an unknown field is reported at its key, with the field it was probably meant to be', () => {
  const text = withUpstream(`${TARGET}    timeout: { connect: 5s }\n`);
  assert.deepEqual(problemsOf(text), [
    problem(9, 5, 'upstreams.api.timeout', "unknown field 'timeout' (did you mean 'timeouts'?)"),
  ]);
});

test('an unknown field with no likely match lists the fields that are known', () => {
  const text = withUpstream(`${TARGET}    zzz: 3\n`);
  assert.deepEqual(problemsOf(text), [
    problem(
      9,
      5,
      'upstreams.api.zzz',
      "unknown field 'zzz' (known fields: targets, discovery, balancer, hash_key, protocol, pool, health_check, slow_start, panic_threshold, outlier_detection, hold, circuit_breaker, retries, maintenance, timeouts, tls)",
    ),
  ]);
});

test('a value of the wrong type says what was expected and what was found', () => {
  const text = `listen:
  address: 127.0.0.1:8080
routes:
  - upstream: api
    strip_prefix: yes
upstreams:
  api:
${TARGET}`;
  assert.deepEqual(problemsOf(text), [
    problem(2, 3, 'listen', 'expected a list of at least one listener, got a mapping'),
    problem(5, 19, 'routes[0].strip_prefix', 'expected true or false, got "yes"'),
  ]);
});

test('a duration without a unit, in words, or zero is refused with an example of one', () => {
  const text = withUpstream(
    `${TARGET}    timeouts: { connect: 5 seconds, read: 30, response: 0s }\n    pool: { idle_timeout: fast }\n`,
  );
  assert.deepEqual(problemsOf(text), [
    problem(
      9,
      26,
      'upstreams.api.timeouts.connect',
      'expected a duration like 250ms, 5s or 1m, got "5 seconds" (its unit is ms, s, m or h, right after the number: 5s)',
    ),
    problem(
      9,
      43,
      'upstreams.api.timeouts.read',
      'expected a duration like 250ms, 5s or 1m, got 30 (a number alone is no duration: 30s, or 30ms?)',
    ),
    problem(
      9,
      57,
      'upstreams.api.timeouts.response',
      'expected a duration above zero like 250ms, 5s or 1m, got "0s"',
    ),
    problem(
      10,
      27,
      'upstreams.api.pool.idle_timeout',
      'expected a duration like 250ms, 5s or 1m, got "fast"',
    ),
  ]);
});

// The spellings other configs take (Go's and Envoy's 1h30m, a clock's 1m30, nginx's bare seconds,
// systemd's 5min) were refused with the same "expected a duration like 250ms, 5s or 1m": each
// says now what is wrong with it, and the duration it may have meant.
test('a duration refused says why, with the one it may have meant', () => {
  const text = withUpstream(
    `${TARGET}    timeouts: { connect: 1h30m, read: 1m30, response: "30 s", send: 5min, total: -5s, tunnel_idle: 1e3ms, tunnel_half_closed: "2" }\n`,
  );
  const got = (value: string, why: string) =>
    `expected a duration like 250ms, 5s or 1m, got ${value} (${why})`;
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.path}: ${p.message}`),
    [
      `upstreams.api.timeouts.connect: ${got('"1h30m"', 'one unit to a duration: 90m')}`,
      `upstreams.api.timeouts.read: ${got('"1m30"', 'one unit to a duration: 90s, if 1m30s was meant')}`,
      `upstreams.api.timeouts.response: ${got('"30 s"', 'its unit is ms, s, m or h, right after the number: 30s')}`,
      `upstreams.api.timeouts.send: ${got('"5min"', 'its unit is ms, s, m or h, right after the number: 5m')}`,
      `upstreams.api.timeouts.total: ${got('"-5s"', 'a duration takes no sign')}`,
      `upstreams.api.timeouts.tunnel_idle: ${got('"1e3ms"', 'no exponent: 1s')}`,
      `upstreams.api.timeouts.tunnel_half_closed: ${got('"2"', 'a number alone is no duration: 2s, or 2ms?')}`,
    ],
  );
});

test('a duration past the longest timer (596h) is refused: Node fires a longer one after 1 ms, in a loop', () => {
  const text = withUpstream(
    `${TARGET}    timeouts: { response: 596h, total: 597h }\n    pool: { idle_timeout: 1000h }\n`,
  );
  assert.deepEqual(problemsOf(text), [
    problem(
      9,
      40,
      'upstreams.api.timeouts.total',
      'expected a duration of at most 596h (the longest a timer waits), got "597h"',
    ),
    problem(
      10,
      27,
      'upstreams.api.pool.idle_timeout',
      'expected a duration of at most 596h (the longest a timer waits), got "1000h"',
    ),
  ]);
  // A certificate's renewal margin is no timer's wait: a month is fine.
  const fine = `${text.replace('total: 597h', 'total: 596h').replace('idle_timeout: 1000h', 'idle_timeout: 1h')}acme:
  email: ops@example.com
  storage: /tmp/candor-acme
  renew_before: 720h
`;
  assert.equal(parseConfig(fine, SOURCE).acme?.renewBefore, 720 * 3_600_000);
});

// docs/configuration.md, Durations: past 596h is refused, but for acme.renew_before and
// cache.lifetimes; a duration that may be 0s is no exception.
test('a duration that may be 0s is bounded at 596h as well (cache.stale_if_error, a JWT clock_skew, drain.delay)', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
    cache: { stale_if_error: 1000h }
    auth: { jwt: { keys_file: /dev/null, clock_skew: 597h } }
upstreams:
  api:
${TARGET}drain: { delay: 1000h, timeout: 596h }
`;
  assert.deepEqual(
    problemsOf(text)
      .filter(({ message }) => message.includes('at most 596h'))
      .map(({ line, path }) => [line, path]),
    [
      [5, 'routes[0].cache.stale_if_error'],
      [6, 'routes[0].auth.jwt.clock_skew'],
      [11, 'drain.delay'],
    ],
  );
});

test('a size with a wrong unit, or a header size out of bounds, is refused with an example of one', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
    limits: { body: 8kb }
upstreams:
  api:
${TARGET}limits:
  header_size: 2MiB
  uri_length: -1
`;
  assert.deepEqual(problemsOf(text), [
    problem(
      5,
      21,
      'routes[0].limits.body',
      'expected a size like 512, 8KiB or 10MiB, got "8kb" (write 8kB, decimal, or 8KiB, binary)',
    ),
    problem(11, 16, 'limits.header_size', 'expected a size from 1KiB to 1MiB like 32KiB, got "2MiB"'),
    problem(12, 15, 'limits.uri_length', 'expected a size like 512, 8KiB or 10MiB, got -1'),
  ]);
});

// nginx's `client_max_body_size 10m` is 10 MiB, and a unit in another case (`1Mib`, `1mb`) or after
// a space was told only "expected a size like 512, 8KiB or 10MiB": each says now what to write.
test('a size refused says why, with the one it may have meant', () => {
  const sizes = ['10m', '512k', '1Mib', '1mb', '"1 MiB"', '-5MiB', '100b'];
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
${sizes.map((size, i) => `  - match: { path: /r${i} }\n    upstream: api\n    limits: { body: ${size} }\n`).join('')}upstreams:
  api:
${TARGET}`;
  const got = (value: string, why: string) =>
    `expected a size like 512, 8KiB or 10MiB, got ${value} (${why})`;
  assert.deepEqual(
    problemsOf(text).map((p) => `${p.path}: ${p.message}`),
    [
      `routes[0].limits.body: ${got('"10m"', "nginx's 10m is 10MiB: write 10MiB, or 10MB for 10000000 bytes")}`,
      `routes[1].limits.body: ${got('"512k"', "nginx's 512k is 512KiB: write 512KiB, or 512kB for 512000 bytes")}`,
      `routes[2].limits.body: ${got('"1Mib"', 'write 1MiB')}`,
      `routes[3].limits.body: ${got('"1mb"', 'write 1MB, decimal, or 1MiB, binary')}`,
      `routes[4].limits.body: ${got('"1 MiB"', 'no space before the unit: 1MiB')}`,
      `routes[5].limits.body: ${got('"-5MiB"', 'a size takes no sign')}`,
      `routes[6].limits.body: ${got('"100b"', 'write 100, or 100B')}`,
    ],
  );
});

test('a missing required field is reported at the mapping that lacks it', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { path: /v1 }
upstreams:
  api:
    balancer: least_conn
`;
  assert.deepEqual(problemsOf(text), [
    problem(4, 5, 'routes[0].upstream', "missing required field 'upstream'"),
    problem(
      6,
      3,
      'upstreams.api.targets',
      "missing required field 'targets' (or 'discovery', to find them by DNS)",
    ),
  ]);
});

// A required field misspelt is one mistake: the did-you-mean at the misspelling says it all, and
// "missing required field" at the mapping above it (a line the user did not get wrong) is left out.
test('a required field misspelt is told once, at the misspelling, not as missing too', () => {
  const text = `listen:
  - adress: 127.0.0.1:8080
routes:
  - match: { path: /v1 }
    upstrem: api
upstreams:
  api:
    tragets: [{ url: http://127.0.0.1:3001 }]
`;
  assert.deepEqual(problemsOf(text), [
    problem(2, 5, 'listen[0].adress', "unknown field 'adress' (did you mean 'address'?)"),
    problem(5, 5, 'routes[0].upstrem', "unknown field 'upstrem' (did you mean 'upstream'?)"),
    problem(8, 5, 'upstreams.api.tragets', "unknown field 'tragets' (did you mean 'targets'?)"),
  ]);
});

test('a missing top-level section is reported at the start of the document', () => {
  assert.deepEqual(problemsOf('name: edge-1\nlisten:\n  - address: 127.0.0.1:8080\n'), [
    problem(1, 1, 'routes', "missing required field 'routes'"),
  ]);
});

test('without upstreams, a gateway whose routes all redirect is accepted; a route that names an upstream is not', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { path: /old }
    redirect: { location: "https://example.com/new" }
  - match: { path: /api }
    upstream: api
`;
  assert.deepEqual(problemsOf(text), [
    problem(7, 15, 'routes[1].upstream', "no upstream named 'api' (defined: none)"),
  ]);
});

test('empty lists of listeners, routes or targets are refused', () => {
  const text = `listen: []
routes: []
upstreams:
  api:
    targets: []
`;
  assert.deepEqual(problemsOf(text), [
    problem(1, 9, 'listen', 'expected a list of at least one listener, got an empty list'),
    problem(2, 9, 'routes', 'expected a list of at least one route, got an empty list'),
    problem(5, 14, 'upstreams.api.targets', 'expected a list of at least one target, got an empty list'),
  ]);
});

test('a route naming an upstream that does not exist points at its upstream field', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: apii
  - match: { path: /billing }
    upstream: billing
upstreams:
  api:
${TARGET}`;
  assert.deepEqual(problemsOf(text), [
    problem(4, 15, 'routes[0].upstream', "no upstream named 'apii' (did you mean 'api'?)"),
    problem(6, 15, 'routes[1].upstream', "no upstream named 'billing' (defined: api)"),
  ]);
});

test('a target URL with a path, another scheme or credentials is refused', () => {
  const text = withUpstream(`    targets:
      - url: http://127.0.0.1:3001/api
      - url: ftp://files.internal
      - url: http://user:secret@127.0.0.1:3001
      - url: 127.0.0.1:3001
      - url: http://127.0.0.1:3001?x=1
`);
  assert.deepEqual(problemsOf(text), [
    problem(
      8,
      14,
      'upstreams.api.targets[0].url',
      'expected scheme://host:port only, got "http://127.0.0.1:3001/api" with a path or query (use the route\'s match.path and strip_prefix instead)',
    ),
    problem(
      9,
      14,
      'upstreams.api.targets[1].url',
      'expected an http:// or https:// URL, got "ftp://files.internal" (scheme "ftp")',
    ),
    problem(
      10,
      14,
      'upstreams.api.targets[2].url',
      'expected a URL without credentials, got "http://user:***@127.0.0.1:3001"',
    ),
    problem(
      11,
      14,
      'upstreams.api.targets[3].url',
      'expected a URL like http://127.0.0.1:3001, got "127.0.0.1:3001"',
    ),
    problem(
      12,
      14,
      'upstreams.api.targets[4].url',
      'expected scheme://host:port only, got "http://127.0.0.1:3001?x=1" with a path or query (use the route\'s match.path and strip_prefix instead)',
    ),
  ]);
});

test('a target weight out of range is refused', () => {
  const text = withUpstream(`    targets:
      - url: http://127.0.0.1:3001
        weight: 0
      - url: http://127.0.0.1:3002
        weight: 1.5
`);
  assert.deepEqual(problemsOf(text), [
    problem(9, 17, 'upstreams.api.targets[0].weight', 'expected an integer from 1 to 1000, got 0'),
    problem(11, 17, 'upstreams.api.targets[1].weight', 'expected an integer from 1 to 1000, got 1.5'),
  ]);
});

test('a target priority out of range is refused', () => {
  const text = withUpstream(`    targets:
      - url: http://127.0.0.1:3001
        priority: -1
      - url: http://127.0.0.1:3002
        priority: 65536
`);
  assert.deepEqual(problemsOf(text), [
    problem(9, 19, 'upstreams.api.targets[0].priority', 'expected an integer from 0 to 65535, got -1'),
    problem(11, 19, 'upstreams.api.targets[1].priority', 'expected an integer from 0 to 65535, got 65536'),
  ]);
});

test('a trusted proxy entry that is not an address or CIDR block is refused', () => {
  const text = withUpstream(`${TARGET}trust_forwarded_from:
  - 10.0.0.0/33
  - fd00::/129
  - 10.0.0.0/8/1
  - proxy.internal
  - 10.0.0.1
`);
  const expected = 'expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got';
  assert.deepEqual(problemsOf(text), [
    problem(10, 5, 'trust_forwarded_from[0]', `${expected} "10.0.0.0/33" (an IPv4 prefix length is 0 to 32)`),
    problem(11, 5, 'trust_forwarded_from[1]', `${expected} "fd00::/129" (an IPv6 prefix length is 0 to 128)`),
    problem(12, 5, 'trust_forwarded_from[2]', `${expected} "10.0.0.0/8/1"`),
    problem(13, 5, 'trust_forwarded_from[3]', `${expected} "proxy.internal"`),
  ]);
});

test('a listen address without a port, with one that is no port, or an IPv6 one without brackets, is refused; so is a duplicate', () => {
  const text = `listen:
  - address: localhost
  - address: ::1:8080
  - address: 127.0.0.1:8080
  - address: 127.0.0.1:8080
  - address: 127.0.0.1:70000
  - address: localhost:http
  - address: "[::1]:99999"
${UPSTREAM_AND_ROUTE}`;
  const expected = 'expected host:port like 127.0.0.1:8080 or [::1]:8080, got';
  assert.deepEqual(problemsOf(text), [
    problem(2, 14, 'listen[0].address', `${expected} "localhost"`),
    problem(
      3,
      14,
      'listen[1].address',
      `${expected} "::1:8080" (put an IPv6 address in brackets: [::1:8080]:8080)`,
    ),
    problem(
      5,
      14,
      'listen[3].address',
      'duplicate listen address 127.0.0.1:8080 (already used by listen[2])',
    ),
    problem(6, 14, 'listen[4].address', `${expected} "127.0.0.1:70000" (a port is a number from 0 to 65535)`),
    problem(
      7,
      14,
      'listen[5].address',
      `${expected} "localhost:http" (a port is a number from 0 to 65535, not a service name)`,
    ),
    problem(8, 14, 'listen[6].address', `${expected} "[::1]:99999" (a port is a number from 0 to 65535)`),
  ]);
});

test('a total timeout shorter than the response timeout says which is which, defaults included', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: a
upstreams:
  a:
${TARGET}    timeouts: { response: 10s, total: 5s }
  b:
${TARGET}    timeouts: { total: 10s }
  c:
${TARGET}    timeouts: { response: 2m }
`;
  const why = 'the whole exchange cannot end before its response head is allowed to arrive';
  assert.deepEqual(problemsOf(text), [
    problem(
      9,
      39,
      'upstreams.a.timeouts.total',
      `timeouts.total (5s) must be at least timeouts.response (10s): ${why}`,
    ),
    problem(
      13,
      24,
      'upstreams.b.timeouts.total',
      `timeouts.total (10s) must be at least timeouts.response (30s, the default): ${why}`,
    ),
    problem(
      17,
      27,
      'upstreams.c.timeouts.response',
      `timeouts.total (1m, the default) must be at least timeouts.response (2m): ${why}`,
    ),
  ]);
});

test('a retry backoff whose base is above its cap says which is which, defaults included', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: a
upstreams:
  a:
${TARGET}    retries: { backoff: { base: 1s, max: 100ms } }
  b:
${TARGET}    retries: { backoff: { base: 500ms } }
  c:
${TARGET}    retries: { backoff: { max: 10ms } }
  d:
${TARGET}    retries: { backoff: { base: 100ms, max: 100ms } }
`;
  const why = 'each retry waits at most max, so a longer base would never be waited';
  assert.deepEqual(problemsOf(text), [
    problem(
      9,
      33,
      'upstreams.a.retries.backoff.base',
      `backoff.base (1s) must be at most backoff.max (100ms): ${why}`,
    ),
    problem(
      13,
      33,
      'upstreams.b.retries.backoff.base',
      `backoff.base (500ms) must be at most backoff.max (250ms, the default): ${why}`,
    ),
    problem(
      17,
      32,
      'upstreams.c.retries.backoff.max',
      `backoff.base (25ms, the default) must be at most backoff.max (10ms): ${why}`,
    ),
  ]);
});

test('a drain delay must leave time before the drain deadline, and may be zero', () => {
  const base = withUpstream(TARGET);
  const why = 'the timeout counts from the signal, so requests in flight would get no time to finish';
  assert.deepEqual(problemsOf(`${base}drain: { delay: 40s }\n`), [
    problem(9, 17, 'drain.delay', `drain.delay (40s) must be shorter than drain.timeout (30s): ${why}`),
  ]);
  assert.deepEqual(parseConfig(`${base}drain: { delay: 0s, timeout: 1s }\n`, SOURCE, {}).drain, {
    delay: 0,
    timeout: 1000,
  });
  assert.deepEqual(problemsOf(`${base}drain: { timeout: 0s }\n`), [
    problem(9, 19, 'drain.timeout', 'expected a duration above zero like 250ms, 5s or 1m, got "0s"'),
  ]);
});

test('limits.uri_length of 0 is refused: it would answer every request 414, not lift the limit', () => {
  const base = withUpstream(TARGET);
  const why =
    'limits.uri_length must be above zero (it is the longest request target accepted, not "no limit"): at 0 every request would be refused with 414';
  for (const zero of ['0', '0B', '0KiB'])
    assert.deepEqual(problemsOf(`${base}limits: { uri_length: ${zero} }\n`), [
      problem(9, 23, 'limits.uri_length', why),
    ]);
  assert.equal(parseConfig(`${base}limits: { uri_length: 1 }\n`, SOURCE, {}).limits.uriLength, 1);
});

test('names must be tokens that fit in Via and Proxy-Status', () => {
  const text = `name: my gateway
listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: my api
upstreams:
  my api:
${TARGET}`;
  assert.deepEqual(problemsOf(text), [
    problem(
      1,
      7,
      'name',
      "expected a name of letters, digits, '.', '_', '-' or ':', starting with a letter, got \"my gateway\"",
    ),
    problem(
      7,
      3,
      'upstreams["my api"]',
      "expected an upstream name of letters, digits, '.', '_', '-' or ':', starting with a letter, got \"my api\"",
    ),
  ]);
});

test('two routes with the same host and path are refused: the second could never be used', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { host: api.example.com, path: /v1 }
    upstream: api
  - match: { host: API.example.com, path: /v1/ }
    upstream: api
  - upstream: api
  - match: { path: / }
    upstream: api
upstreams:
  api:
${TARGET}`;
  assert.deepEqual(problemsOf(text), [
    problem(
      6,
      12,
      'routes[1].match',
      'same host and path as routes[0] (api.example.com/v1), so this route would never be used',
    ),
    problem(
      9,
      12,
      'routes[3].match',
      'same host and path as routes[2] (/), so this route would never be used',
    ),
  ]);
});

test('a route host or path of the wrong form is refused', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { host: "api.*.com", path: v1 }
    upstream: api
upstreams:
  api:
${TARGET}`;
  assert.deepEqual(problemsOf(text), [
    problem(
      4,
      20,
      'routes[0].match.host',
      'expected a host name like api.example.com or *.example.com, got "api.*.com"',
    ),
    problem(
      4,
      39,
      'routes[0].match.path',
      'expected a path prefix starting with "/" (no spaces, query or fragment), got "v1"',
    ),
  ]);
});

test('a route host in Unicode is refused with the A-label form its clients send in Host', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { host: "*.Bücher.example:8080" }
    upstream: api
upstreams:
  api:
${TARGET}`;
  assert.deepEqual(problemsOf(text), [
    problem(
      4,
      20,
      'routes[0].match.host',
      'expected a host name like api.example.com or *.example.com, got "*.Bücher.example:8080" (a name outside ASCII is written in its A-label form, as clients send it: "*.xn--bcher-kva.example:8080")',
    ),
  ]);
});

test('a TLS file that does not exist is reported where it is named, resolved against the config file', () => {
  const text = `listen:
  - address: 127.0.0.1:8443
    tls: { cert: missing/cert.pem, key: missing/key.pem }
${UPSTREAM_AND_ROUTE}    tls: { ca: missing/ca.pem }
`;
  const dir = import.meta.dirname;
  assert.deepEqual(problemsOf(text), [
    problem(3, 18, 'listen[0].tls.cert', `cannot read "${dir}/missing/cert.pem": no such file`),
    problem(3, 41, 'listen[0].tls.key', `cannot read "${dir}/missing/key.pem": no such file`),
    problem(10, 16, 'upstreams.api.tls.ca', `cannot read "${dir}/missing/ca.pem": no such file`),
  ]);
});

test('a CA file that holds no certificate is refused where it is named (TLS would take it and trust only the system roots)', () => {
  const certs = '../../../docs/examples/certs';
  const text = `listen:
  - address: 127.0.0.1:8080
${UPSTREAM_AND_ROUTE}    tls: { ca: ${certs}/api-key.pem }
  good:
    targets: [{ url: https://127.0.0.1:3002 }]
    tls: { ca: ${certs}/internal-ca.pem }
acme: { ca: ${certs}/edge-key.pem }
`;
  const dir = join(import.meta.dirname, certs);
  assert.deepEqual(problemsOf(text), [
    problem(
      9,
      16,
      'upstreams.api.tls.ca',
      `"${dir}/api-key.pem" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ),
    problem(
      13,
      13,
      'acme.ca',
      `"${dir}/edge-key.pem" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ),
  ]);
});

test('a CA that is not a regular file (/dev/zero) is refused unread: it would be read without end', {
  skip: process.platform !== 'linux',
}, () => {
  const text = `listen:
  - address: 127.0.0.1:8080
${UPSTREAM_AND_ROUTE}    tls: { ca: /dev/zero }
acme: { ca: /dev/zero }
`;
  assert.deepEqual(problemsOf(text), [
    problem(9, 16, 'upstreams.api.tls.ca', 'cannot read "/dev/zero": not a file'),
    problem(10, 13, 'acme.ca', 'cannot read "/dev/zero": not a file'),
  ]);
});

test('an enum value outside its set lists the allowed values', () => {
  const text = withUpstream(`${TARGET}    balancer: random\nlog: { level: loud }\n`);
  assert.deepEqual(problemsOf(text), [
    problem(9, 15, 'upstreams.api.balancer', 'expected one of round_robin, least_conn, hash, got "random"'),
    problem(
      10,
      15,
      'log.level',
      'expected one of trace, debug, info, warn, error, fatal, silent, got "loud"',
    ),
  ]);
});

test('a YAML syntax error is reported with its line, like any other problem', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes: []
upstreams: {}
 bad: indent
`;
  assert.deepEqual(problemsOf(text), [
    problem(
      5,
      1,
      'upstreams',
      'this line is indented unlike the fields above it (line 4): the fields of one mapping start at one column',
    ),
  ]);
});

// The parser tells a quote or a [ / { left open where it gave up: the end of the file, or the next
// line at the key's indentation, a line with nothing wrong on it. Said where it was opened instead,
// naming the field, as any other problem.
test('a quote left open is told where it opens, at its field', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: "api
upstreams: {}
`;
  assert.deepEqual(problemsOf(text), [
    problem(
      4,
      15,
      'routes[0].upstream',
      'this " has no closing " (the value runs on to the end of the file, line 6)',
    ),
  ]);
});

test('a [ or { left open is told where it opens, at its field, not at the next line', () => {
  const seq = `listen:
  - address: 127.0.0.1:8080
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:3001" }
routes:
  - { upstream: app, match: { path: / } }
`;
  assert.deepEqual(problemsOf(seq), [
    problem(
      5,
      14,
      'upstreams.app.targets',
      'this [ has no closing ] before line 6: close it, or indent the lines it holds past its key',
    ),
  ]);
  const map = `listen:
  - address: 127.0.0.1:8080
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:3001" }]
routes:
  - upstream: app
    match: { path: /
  - upstream: app
`;
  assert.deepEqual(problemsOf(map), [
    problem(
      8,
      12,
      'routes[0].match',
      'this { has no closing } before line 9: close it, or indent the lines it holds past its key',
    ),
  ]);
});

test('a key written twice is refused at the second, naming its field and the line of the first', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
    targets:
      - url: http://127.0.0.1:3002
`;
  assert.deepEqual(problemsOf(text), [
    problem(
      9,
      5,
      'upstreams.api.targets',
      'written twice in this mapping (first at line 7): a key may appear once; keep the one you mean',
    ),
  ]);
});

test('keys that read as the same name are the same key ("8080" and 8080)', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
    response_headers: { set: { 8080: a, "8080": b } }
upstreams:
  api:
${TARGET}`;
  assert.deepEqual(problemsOf(text), [
    problem(
      5,
      41,
      'routes[0].response_headers.set.8080',
      'written twice in this mapping (first at line 5): a key may appear once; keep the one you mean',
    ),
  ]);
});

test('an empty file says what a config needs', () => {
  assert.deepEqual(problemsOf(''), [
    problem(1, 1, '', 'expected a mapping with listen, routes and upstreams, got nothing'),
  ]);
});

test('every problem in the file is reported at once, in file order', () => {
  const text = `name: edge-1
listen:
  - address: 127.0.0.1:\${PORT}
routes:
  - upstream: apii
    strip_prefix: maybe
upstreams:
  api:
    targets:
      - url: ftp://127.0.0.1:3001
    timeout: { connect: 5 seconds }
    timeouts: { connect: fast }
trust_forwarded_from: [10.0.0.0/33]
`;
  assert.deepEqual(
    problemsOf(text).map((found) => `${found.line}:${found.column} ${found.path}`),
    [
      '3:14 listen[0].address',
      '5:15 routes[0].upstream',
      '6:19 routes[0].strip_prefix',
      '10:14 upstreams.api.targets[0].url',
      '11:5 upstreams.api.timeout',
      '12:26 upstreams.api.timeouts.connect',
      '13:24 trust_forwarded_from[0]',
    ],
  );
});

test('an unquoted wildcard host, which YAML reads as an alias, says to quote it', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { host: *.example.com }
    upstream: api
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;
  assert.deepEqual(problemsOf(text), [
    problem(
      4,
      20,
      'routes[0].match.host',
      'alias *.example.com is not defined (to write a value starting with "*", quote it: "*.example.com")',
    ),
  ]);
});

/** Nine aliases to a list of nine aliases, `levels` deep: a few hundred bytes that expand to 9^levels values. */
function aliasBomb(levels: number): string {
  const lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i <= levels; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

test('a YAML alias bomb (a few hundred bytes, aliases nested 7 deep) is refused at the alias where the count passed its bound', {
  timeout: 20_000,
}, () => {
  const text = aliasBomb(7);
  assert.equal(Buffer.byteLength(text), 450);
  // Unbounded, the walk expanded 9^7 = 4.8 million values: the issue's 563-byte file of this
  // shape took 16 s and 1.2 GiB, and a reload held the primary that long.
  assert.deepEqual(problemsOf(text), [
    problem(
      5,
      10,
      '',
      'more than 1000 aliases to resolve (one inside an aliased value counts each time that value is used); the count passed it at *l3: a config needs far fewer; write the values out, or nest fewer aliases',
    ),
  ]);
});

test('aliases that expand a file past 100000 values are refused, though they are few', () => {
  const anchored = `big: &big [${Array(1000).fill('1').join(', ')}]\n`;
  const uses = Array.from({ length: 120 }, (_, i) => `u${i}: *big\n`).join('');
  const [only] = problemsOf(anchored + uses);
  assert.equal(only.line, 100);
  assert.equal(
    only.message,
    'aliases expand this file past 100000 values; the count passed it at *big: a config needs far fewer; write the values out, or nest fewer aliases',
  );
});

test('an upstream protocol is one of http1, h2c and h2, with a did-you-mean on the field name', () => {
  assert.deepEqual(problemsOf(withUpstream(`${TARGET}    protocl: h2c\n`)), [
    problem(9, 5, 'upstreams.api.protocl', "unknown field 'protocl' (did you mean 'protocol'?)"),
  ]);
  assert.deepEqual(problemsOf(withUpstream(`${TARGET}    protocol: http2\n`)), [
    problem(9, 15, 'upstreams.api.protocol', 'expected one of http1, h2c, h2, got "http2"'),
  ]);
});

test('one server written twice in an upstream is a warning at the second, naming the first and the weight that says the same', () => {
  // A target's state (health, ejection, an operator's drain or weight, its turn) is its origin's:
  // a second entry is a second turn of one server, a double share in round robin but none of the
  // hash ring's keys (the same points, the first entry's), ramped by slow_start at each reload. It
  // still runs: a config may write one server twice to give a retry a second target.
  const twice = `    targets:
      - url: http://127.0.0.1:3001
        weight: 2
      - url: http://127.0.0.1:3002
      - url: http://127.0.0.1:3001/
`;
  const warningsOf = (upstream: string) => {
    const warnings: ConfigProblem[] = [];
    const config = parseConfig(withUpstream(upstream), SOURCE, {}, { warnings });
    return {
      warnings: warnings.map((w) => [w.path, w.message]),
      targets: config.upstreams.api.targets.length,
    };
  };
  assert.deepEqual(warningsOf(twice), {
    warnings: [
      [
        'upstreams.api.targets[2].url',
        "http://127.0.0.1:3001/ is the server targets[0] names already (http://127.0.0.1:3001): its health, ejection, drain and connections are kept by its address, and a second entry is a second turn of it (twice its share in round robin, none of a hash ring's keys); write it once, with weight: 3 for the share both entries ask",
      ],
    ],
    targets: 3,
  });
  const spelledApart =
    '    targets:\n      - url: http://app.internal\n      - url: http://APP.internal:80\n';
  assert.deepEqual(
    warningsOf(spelledApart).warnings.map(([, message]) => message),
    [
      "http://APP.internal:80 is the server targets[0] names already (http://app.internal:80): its health, ejection, drain and connections are kept by its address, and a second entry is a second turn of it (twice its share in round robin, none of a hash ring's keys); write it once, with weight: 2 for the share both entries ask",
    ],
  );
});

test('h2 needs https:// targets and h2c http:// ones, each refusal naming the other protocol', () => {
  assert.deepEqual(problemsOf(withUpstream(`${TARGET}    protocol: h2\n`)), [
    problem(
      8,
      14,
      'upstreams.api.targets[0].url',
      'protocol h2 is HTTP/2 over TLS: expected an https:// URL, got http://127.0.0.1:3001 (for HTTP/2 in the clear, use protocol: h2c)',
    ),
  ]);
  const tlsTarget = '    targets:\n      - url: https://127.0.0.1:3001\n';
  assert.deepEqual(problemsOf(withUpstream(`${tlsTarget}    protocol: h2c\n`)), [
    problem(
      8,
      14,
      'upstreams.api.targets[0].url',
      'protocol h2c is HTTP/2 in the clear: expected an http:// URL, got https://127.0.0.1:3001 (for HTTP/2 over TLS, use protocol: h2)',
    ),
  ]);
  assert.deepEqual(problemsOf(withUpstream(`${TARGET}    protocol: h2c\n    pool: { max_streams: 0 }\n`)), [
    problem(
      10,
      26,
      'upstreams.api.pool.max_streams',
      'expected concurrent streams on one HTTP/2 connection, a whole number from 1 to 10000, got 0',
    ),
  ]);
});

test('a route path not in the normal form requests are matched in is refused, with the form to write', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { path: /api/../admin }
    upstream: api
  - match: { path: /%7Euser }
    upstream: api
  - match: { path: /a%2fb }
    upstream: api
  - match: { path: /v1 }
    upstream: api
    rewrite: { prefix: "/a%zz" }
  - match: { path: /x//y }
    upstream: api
upstreams:
  api:
${TARGET}`;
  const normalForm = (got: string, write: string) =>
    `expected a path prefix in the normal form requests are matched in, got "${got}": write "${write}"`;
  assert.deepEqual(problemsOf(text), [
    problem(4, 20, 'routes[0].match.path', normalForm('/api/../admin', '/admin')),
    problem(6, 20, 'routes[1].match.path', normalForm('/%7Euser', '/~user')),
    problem(8, 20, 'routes[2].match.path', normalForm('/a%2fb', '/a%2Fb')),
    problem(
      12,
      24,
      'routes[3].rewrite.prefix',
      'expected a valid path prefix, got "/a%zz": the path holds a "%" that is not followed by two hex digits',
    ),
    problem(
      13,
      20,
      'routes[4].match.path',
      '"/x//y" would match no request: paths.merge_slashes merges "//" before matching (write "/x/y", or set paths.merge_slashes: false)',
    ),
  ]);
  const kept = text.replace('routes:', 'paths: { merge_slashes: false, normalize: true }\nroutes:');
  assert.equal(
    problemsOf(kept).some((p) => p.path === 'routes[4].match.path'),
    false,
    'with merge_slashes off, "//" in a prefix can match',
  );
});

test('a route path with an escape a segment may hold as it is (%40 for "@") is refused, with the form to write', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - match: { path: /%40admin }
    upstream: api
  - match: { path: "/v1/jobs%3Apurge" }
    upstream: api
  - match: { path: /docs/c++ }
    upstream: api
    rewrite: { prefix: /docs/c%2B%2B }
upstreams:
  api:
${TARGET}`;
  // A request spelled as the file writes it would be refused: a server that decodes its path
  // reads it as the route written with the characters themselves, another route to the router.
  const decodedForm = (got: string, write: string) =>
    `expected a path prefix with the characters themselves, not their escapes (a server that decodes the path reads them alike, and a request could spell it either way), got "${got}": write "${write}"`;
  assert.deepEqual(problemsOf(text), [
    problem(4, 20, 'routes[0].match.path', decodedForm('/%40admin', '/@admin')),
    problem(6, 20, 'routes[1].match.path', decodedForm('/v1/jobs%3Apurge', '/v1/jobs:purge')),
  ]);
});

// A value past 32 bits passed the check and threw at the first HTTP/2 connection, taking the
// process down (node:http2's RangeError ERR_HTTP2_INVALID_SETTING_VALUE).
test('an HTTP/2 bound sent in SETTINGS holds in 32 bits, or the config is refused where it says so', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
    http2: true
limits:
  http2:
    max_header_list_size: 8GiB
    header_table_size: 4294967296
${UPSTREAM_AND_ROUTE}`;
  const why = 'sent to every HTTP/2 client in SETTINGS, whose values hold 32 bits';
  assert.deepEqual(problemsOf(text), [
    problem(
      6,
      27,
      'limits.http2.max_header_list_size',
      `expected at most 4294967295 bytes (${why}), got 8GiB`,
    ),
    problem(7, 24, 'limits.http2.header_table_size', `expected at most 4294967295 bytes (${why}), got 4GiB`),
  ]);
});

test('limits.http2.max_header_list_size of 0 is refused: every HTTP/2 request would be a 431', () => {
  const base = withUpstream(TARGET);
  assert.deepEqual(problemsOf(`${base}limits: { http2: { max_header_list_size: 0 } }\n`), [
    problem(
      9,
      42,
      'limits.http2.max_header_list_size',
      'limits.http2.max_header_list_size must be above zero: every request has a header list (its pseudo-fields at least), so at 0 every HTTP/2 request would be refused with 431',
    ),
  ]);
  assert.deepEqual(
    problemsOf(`${base}limits: { http2: { max_session_memory: 0 } }\n`).map((p) => [p.path, p.message]),
    [
      [
        'limits.http2.max_session_memory',
        'limits.http2.max_session_memory must be above zero: node:http2 holds a connection to whole MiB, 1 at least, so 0 would be 1MiB, not "nothing"; write the bound meant, 1MiB or more',
      ],
    ],
  );
  // header_table_size 0 is HTTP/2's own "no dynamic table": allowed.
  assert.equal(
    parseConfig(`${base}limits: { http2: { header_table_size: 0 } }\n`, SOURCE, {}).limits.http2
      .headerTableSize,
    0,
  );
});

test('pool.max_streams on an upstream spoken to over HTTP/1.1 is a warning: it bounds HTTP/2 streams and does nothing there', () => {
  const warningsOf = (upstream: string) => {
    const warnings: ConfigProblem[] = [];
    parseConfig(withUpstream(upstream), SOURCE, {}, { warnings });
    return warnings.map((w) => w.path);
  };
  assert.deepEqual(warningsOf(`${TARGET}    pool: { max_streams: 50 }\n`), [
    'upstreams.api.pool.max_streams',
  ]);
  assert.deepEqual(warningsOf(`${TARGET}    protocol: http1\n    pool: { max_streams: 50 }\n`), [
    'upstreams.api.pool.max_streams',
  ]);
  assert.deepEqual(warningsOf(`${TARGET}    protocol: h2c\n    pool: { max_streams: 50 }\n`), []);
  assert.deepEqual(warningsOf(`${TARGET}    pool: { max_connections: 50 }\n`), []);
});

test('slow_start with balancer: hash is a warning: the ring keeps each key on its target, whatever the weights of the moment', () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(withUpstream(`${TARGET}    balancer: hash\n    slow_start: 30s\n`), SOURCE, {}, { warnings });
  assert.deepEqual(
    warnings.map((w) => [w.path, w.message]),
    [
      [
        'upstreams.api.slow_start',
        'does nothing with balancer: hash (a key goes to its own target, at whatever share of its weight): a target back in rotation takes its keys back at once; drop it, or use round_robin or least_conn for a ramp',
      ],
    ],
  );
  for (const balancer of ['round_robin', 'least_conn']) {
    const none: ConfigProblem[] = [];
    parseConfig(
      withUpstream(`${TARGET}    balancer: ${balancer}\n    slow_start: 30s\n`),
      SOURCE,
      {},
      { warnings: none },
    );
    assert.deepEqual(none, [], balancer);
  }
});

test('a merge key (<<) is named as one, at its key: YAML 1.2 has none, so its fields were never read', () => {
  const text = `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
upstreams:
  api:
    targets:
      - { <<: *base }
`;
  const withAnchor = `base: &base { url: http://127.0.0.1:3001 }\n${text}`;
  const problems = problemsOf(withAnchor).filter((p) => p.path.endsWith('"<<"]'));
  assert.deepEqual(problems, [
    problem(
      9,
      11,
      'upstreams.api.targets[0]["<<"]',
      'a merge key (<<) is not read: a config is YAML 1.2, which has none; write the fields out, or alias a whole value (targets: *api_targets)',
    ),
  ]);
});

test("no problem quotes a URL's password, whatever field it is in: a refused reload logs it and the admin API answers it", () => {
  const problems = problemsOf(
    withRoutes(`  - match: { path: /a }
    upstream: api
    auth:
      forward: { url: "http://gw:s3cret-forward@auth.internal:9000/check" }
  - match: { path: /b }
    upstream: api
    auth:
      jwt: { jwks_url: "https://gw:s3cret-jwks@idp.internal/jwks" }
`).replace('url: http://127.0.0.1:3002', 'url: http://bob:s3cret-target@127.0.0.1:3002'),
  );
  assert.ok(!JSON.stringify(problems).includes('s3cret'), JSON.stringify(problems, null, 1));
  assert.deepEqual(
    problems.filter((p) => p.message.includes('***')).map((p) => `${p.path}: ${p.message}`),
    [
      'routes[0].auth.forward.url: expected a URL without credentials, got "http://gw:***@auth.internal:9000/check"',
      'upstreams.api-next.targets[0].url: expected a URL without credentials, got "http://bob:***@127.0.0.1:3002"',
    ],
  );
});
