/**
 * `health_check.host` is the probes' Host (and a forward-auth call's to the upstream): a host with
 * an optional port, as a request's Host must be. Any string passed, and went out as written: a
 * CR LF in it (a `${VAR}` holding one, a quoted YAML escape) wrote a field of its own into every
 * probe, and `::1` or `a b` a Host an upstream refuses, each probe failed, the target out of
 * rotation, from a file `candor check` said was fine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { SOURCE } from './config-fixture.ts';

function problemsOf(host: string): string[][] | 'accepted' {
  try {
    parseConfig(
      `listen:\n  - address: 127.0.0.1:8080\nroutes:\n  - match: { path: / }\n    upstream: api\nupstreams:\n  api:\n    targets: [{ url: "http://[::1]:3001" }]\n    health_check: { path: /health, host: ${JSON.stringify(host)} }\n`,
      SOURCE,
      {},
    );
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => [p.path, p.message]);
    throw error;
  }
  return 'accepted';
}

const EXPECTED = 'expected a Host like api.internal, api.internal:8080 or [::1]:8080, got';

test('health_check.host is a host with an optional port: a field of its own, a bare IPv6 address, a space are refused', () => {
  const cases: [string, string][] = [
    ['a\r\nX-Injected: 1', `${EXPECTED} "a\\r\\nX-Injected: 1"`],
    ['::1', `${EXPECTED} "::1" (put an IPv6 address in brackets: [::1])`],
    ['[::1', `${EXPECTED} "[::1"`],
    [
      '[1.2.3.4]:80',
      `${EXPECTED} "[1.2.3.4]:80" (between brackets stands an IPv6 address, without a zone index)`,
    ],
    [
      '[fe80::1%eth0]',
      `${EXPECTED} "[fe80::1%eth0]" (between brackets stands an IPv6 address, without a zone index)`,
    ],
    ['a b', `${EXPECTED} "a b"`],
    ['app.internal:99999', `${EXPECTED} "app.internal:99999" (a port is a number from 0 to 65535)`],
  ];
  for (const [host, message] of cases)
    assert.deepEqual(problemsOf(host), [['upstreams.api.health_check.host', message]], JSON.stringify(host));
  for (const host of [
    'api.internal',
    'api.internal:8080',
    '[::1]',
    '[::1]:8080',
    '10.0.0.5:80',
    'API.Internal.',
  ])
    assert.equal(problemsOf(host), 'accepted', host);
});
