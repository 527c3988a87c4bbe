/**
 * docs/migrating-from-nginx.md's table, where a row gives the Candor setting as config: the
 * setting it shows loads to what the nginx directive does. nginx's `proxy_read_timeout` is one
 * clock for the wait for the head and for the silence between two reads of the body; Candor's
 * `read` is only the second, so a row mapping it to `timeouts.read` alone left a long poll (its
 * head held until its event) at `response`'s 30 s: a 504 where nginx waited the hour. And the
 * bound the page gives for nginx's default `client_max_body_size` is every route's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/load.ts';

const PAGE = readFileSync(join(import.meta.dirname, '../../docs/migrating-from-nginx.md'), 'utf8');
const HOUR = 3_600_000;

test("the page's proxy_read_timeout 1h gives the hour to the wait for the head as to the body's silence", () => {
  const mapping = /`proxy_read_timeout 1h` is `(timeouts: \{[^`]*\})`/.exec(PAGE);
  assert.ok(mapping, 'the proxy_buffering row gives `proxy_read_timeout 1h` as a `timeouts: { … }` mapping');
  const config = parseConfig(
    [
      'listen: [{ address: "127.0.0.1:0" }]',
      'routes:',
      '  - name: feed',
      '    upstream: app',
      `    ${mapping[1]}`,
      'upstreams:',
      '  app: { targets: [{ url: "http://127.0.0.1:3000" }] }',
      '',
    ].join('\n'),
    join(import.meta.dirname, 'from-nginx-rows.yaml'),
    {},
  );
  const timeouts = config.routes[0].timeouts?.app;
  assert.ok(timeouts, 'the route writes timeouts');
  assert.deepEqual(
    { response: timeouts.response, read: timeouts.read, total: timeouts.total },
    { response: HOUR, read: HOUR, total: HOUR },
  );
});

test("the page's bound for nginx's default client_max_body_size, written in route_defaults, is every route's 1 MiB", () => {
  const written = /write `(limits: \{ body: [^`]+\})` \(in `route_defaults` for every route\)/.exec(PAGE);
  assert.ok(written, 'the client_max_body_size row says what to write');
  const config = parseConfig(
    [
      'listen: [{ address: "127.0.0.1:0" }]',
      'route_defaults:',
      `  ${written[1]}`,
      'routes:',
      '  - { name: api, match: { path: /api }, upstream: app }',
      '  - { name: site, upstream: app }',
      'upstreams:',
      '  app: { targets: [{ url: "http://127.0.0.1:3000" }] }',
      '',
    ].join('\n'),
    join(import.meta.dirname, 'from-nginx-rows.yaml'),
    {},
  );
  assert.deepEqual(
    config.routes.map((route) => route.limits.body),
    [1024 * 1024, 1024 * 1024],
  );
});
