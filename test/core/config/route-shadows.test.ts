/**
 * `candor check` says which route shadows which, across kinds of condition (issue 32, item 4):
 * a route that a route tried before it takes whole, or takes from only by file order, is
 * refused with the route that shadows it named; a route that a host's route takes requests
 * from although its own path is longer is a warning; a narrower route tried first by the
 * router's precedence is the exception it was written as, and is not reported.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const config = (routes: string) => `listen:
  - { name: public, address: 127.0.0.1:8080 }
  - { name: internal, address: 127.0.0.1:8081 }
routes:
${routes}upstreams:
  api:
    targets: [{ url: http://127.0.0.1:3001 }]
`;

const lines = (problems: readonly ConfigProblem[]) =>
  problems.map((p) => `${p.line} ${p.path}: ${p.message}`);

function warningsOf(text: string): string[] {
  const warnings: ConfigProblem[] = [];
  parseConfig(text, SOURCE, {}, { warnings });
  return lines(warnings);
}

test('a header route after routes for every GET and POST on the same host and path is refused, naming them', () => {
  const text = config(`  - match: { host: api.example.com, path: /v1, methods: [GET] }
    upstream: api
  - match: { host: api.example.com, path: /v1, methods: [POST] }
    upstream: api
  - match: { host: api.example.com, path: /v1, headers: { X-Api-Version: "2" } }
    upstream: api
`);
  assert.deepEqual(lines(problemsOf(text)), [
    '9 routes[2].match: routes[0] (api.example.com/v1, methods GET, HEAD) and routes[1] (api.example.com/v1, methods POST), earlier in the file with as many conditions on the same host and path, take the requests of this route that meet their conditions too: only file order picks (make the conditions exclusive, or give the route meant to win one more condition)',
  ]);
  // Placed first it still ties (the order of the file is no rule); one more condition makes it
  // the narrower route tried first: GET and POST requests without the header reach the other.
  assert.doesNotThrow(() =>
    parseConfig(
      config(`  - match: { host: api.example.com, path: /v1, methods: [GET, POST] }
    upstream: api
  - match: { host: api.example.com, path: /v1, methods: [GET, POST], headers: { X-Api-Version: "2" } }
    upstream: api
`),
      SOURCE,
      {},
    ),
  );
});

test('listener, scheme and query conditions shadow each other too; a route taken whole is never used', () => {
  const text = config(`  - match: { path: /a, scheme: http }
    upstream: api
  - match: { path: /a, listener: public }
    upstream: api
  - match: { path: /b, listener: [public, internal] }
    upstream: api
  - match: { path: /b, query: { v: "2" } }
    upstream: api
`);
  assert.deepEqual(lines(problemsOf(text)), [
    // Both listeners are plain HTTP: scheme http matches every request of listener public.
    '7 routes[1].match: routes[0] (/a, scheme http) is tried first (earlier in the file) and matches every request this route matches, so this route would never be used',
    '11 routes[3].match: routes[2] (/b, listener public, internal) is tried first (earlier in the file) and matches every request this route matches, so this route would never be used',
  ]);
});

test('a route for a host that takes requests from a longer path of any host is a warning, not an error', () => {
  const text = config(`  - match: { host: www.example.com }
    upstream: api
  - match: { path: /billing }
    upstream: api
`);
  assert.deepEqual(warningsOf(text), [
    '7 routes[1].match: routes[0] (www.example.com/) is tried first (an exact host before a wildcard or any host, whatever the path), so this route gets none of the requests that also meet its conditions',
  ]);
});

test('a narrower route tried first by the precedence is an exception, not a shadow', () => {
  const text = config(`  - match: { host: api.example.com, path: /v1 }
    upstream: api
  - match: { host: api.example.com, path: /v1, methods: [POST, PUT] }
    upstream: api
  - match: { host: api.example.com, path: /v1, headers: { X-Canary: { present: true } }, query: { debug: "1" } }
    upstream: api
  - match: { host: api.example.com, path: /v1/users }
    upstream: api
  - match: { host: "*.example.com" }
    upstream: api
  - match: { path: /, scheme: http, listener: internal }
    upstream: api
`);
  assert.deepEqual(warningsOf(text), []);
});

test('a route host written with a port is warned of: the port is not compared, so the route takes every port', () => {
  // The router matches the request's host without its port, so this route took the host's
  // requests whatever port they named, more than the config says, and nothing said so.
  const text = config(`  - match: { host: "api.example.com:8443" }
    upstream: api
  - match: { host: "[::1]:8443", path: /v6 }
    upstream: api
  - match: { host: "[::1]", path: /bare }
    upstream: api
`);
  const port = (p: string) =>
    `routes[0].match.host: the port (${p}) is not compared: this route takes the host's requests whatever port they name; to take only those of one listener, name it in match.listener`;
  assert.deepEqual(warningsOf(text), [
    `5 ${port(':8443')}`,
    `7 ${port(':8443').replace('routes[0]', 'routes[1]')}`,
  ]);
});
