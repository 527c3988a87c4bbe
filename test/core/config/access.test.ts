/** A route's access fields as `candor check` reads them: each wrong value named with its line. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const withRoute = (fields: string) => `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
${fields}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;

test('allow and deny take IPv4 and IPv6 addresses and CIDR blocks, IPv4-mapped too', () => {
  const config = parseConfig(
    withRoute(`    allow: [10.0.0.0/8, "2001:db8::/32", "::ffff:192.168.0.0/112"]
    deny: [10.66.0.1, "::1"]
`),
    SOURCE,
    {},
  );
  assert.deepEqual(config.routes[0].access, {
    allow: ['10.0.0.0/8', '2001:db8::/32', '::ffff:192.168.0.0/112'],
    deny: ['10.66.0.1', '::1'],
  });
});

test('a route without allow, deny, cors or auth has no access entry (the one undefined check)', () => {
  const config = parseConfig(withRoute(''), SOURCE, {});
  assert.equal('access' in config.routes[0], false);
});

test('a wrong address, a prefix too long and an empty list are refused with their line', () => {
  const problems = problemsOf(
    withRoute(`    allow: [10.0.0.0/33]
    deny: [not-an-ip]
`),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    '5 routes[0].allow[0]: expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got "10.0.0.0/33" (an IPv4 prefix length is 0 to 32)',
    '6 routes[0].deny[0]: expected an IP address or CIDR block like 10.0.0.0/8 or fd00::/8, got "not-an-ip"',
  ]);
  const empty = problemsOf(withRoute('    deny: []\n')).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.equal(empty.length, 1);
  assert.match(
    empty[0],
    /^5 routes\[0\]\.deny: expected a list of IP addresses or CIDR blocks refused on the route/,
  );
});

test('cors: origins kept, methods defaulted, header names lower-cased, Proxy-Status and X-Request-Id always exposed', () => {
  const config = parseConfig(
    withRoute(`    cors:
      origins: [https://app.example.com, "https://*.example.com:8443"]
      headers: [Content-Type, X-Api-Key]
      expose_headers: [X-Total-Count, x-request-id]
      max_age: 90s
`),
    SOURCE,
    {},
  );
  assert.deepEqual(config.routes[0].access, {
    cors: {
      origins: ['https://app.example.com', 'https://*.example.com:8443'],
      methods: ['GET', 'HEAD', 'POST'],
      headers: ['content-type', 'x-api-key'],
      exposeHeaders: ['X-Total-Count', 'x-request-id', 'Proxy-Status', 'Retry-After'],
      credentials: false,
      maxAge: 90,
    },
  });
});

test('cors: credentials with the origin "*" is refused by candor check; an origin not in its form too', () => {
  const problems = problemsOf(
    withRoute(`    cors:
      origins: ["*", https://App.example.com, "https://a.*.example.com", app.example.com]
      credentials: true
`),
  ).map((p) => `${p.line} ${p.path}`);
  assert.deepEqual(problems, [
    '6 routes[0].cors.origins[1]',
    '6 routes[0].cors.origins[2]',
    '6 routes[0].cors.origins[3]',
    '7 routes[0].cors.credentials',
  ]);
  const [credentials] = problemsOf(
    withRoute(`    cors:
      origins: ["*"]
      credentials: true
`),
  );
  assert.equal(credentials.path, 'routes[0].cors.credentials');
  assert.match(credentials.message, /^credentials: true cannot go with the origin "\*"/);
  // A subdomain wildcard names the sites that may call: credentials may go with it.
  parseConfig(
    withRoute(`    cors: { origins: ["https://*.example.com"], credentials: true }
`),
    SOURCE,
    {},
  );
});
