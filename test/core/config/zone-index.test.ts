/**
 * An IPv6 zone index (`fe80::1%eth0`) is refused wherever the config names an address, with a
 * message that says so: allow/deny, trust_forwarded_from and proxy_protocol.from did already
 * (access.test.ts). A listen address took one (node:net's isIP reads `::1%lo` as IPv6), so
 * `[::1%lo]:8080` beside `[::1]:8080` passed the duplicate check and could only fail at bind; a
 * route host took one that no request can carry (a Host with a `%` is answered 400); a target URL
 * with one was refused as no URL, without a word of why.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { SOURCE } from './config-fixture.ts';

/** Each problem as [path, message]; `accepted` when the config loads. */
function problemsOf(text: string): string[][] | 'accepted' {
  try {
    parseConfig(text, SOURCE, { T: 'admin-token-abcdefghijklmnop' });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => [p.path, p.message]);
    throw error;
  }
  return 'accepted';
}

const routeAndUpstream = (host = '', url = 'http://127.0.0.1:3001') => `routes:
  - match: { path: /${host === '' ? '' : `, host: "${host}"`} }
    upstream: api
upstreams:
  api:
    targets:
      - url: "${url}"
`;
const LISTEN = 'listen:\n  - address: 127.0.0.1:8080\n';
const listenExpected = 'expected host:port like 127.0.0.1:8080 or [::1]:8080, got';

test('a zone index is refused, naming it, in a listen, admin or metrics address, a route host and a target URL', () => {
  const cases: [string, string, string][] = [
    [
      'listen:\n  - address: "[::1]:8080"\n  - address: "[::1%lo]:8080"\n' + routeAndUpstream(),
      'listen[1].address',
      `${listenExpected} "[::1%lo]:8080" (a zone index ("%lo") is not taken: write an address that needs none, a global, unique-local or loopback one, or [::])`,
    ],
    [
      'listen:\n  - address: "[fe80::1%eth0]:443"\n' + routeAndUpstream(),
      'listen[0].address',
      `${listenExpected} "[fe80::1%eth0]:443" (a zone index ("%eth0") is not taken: write an address that needs none, a global, unique-local or loopback one, or [::])`,
    ],
    [
      `${LISTEN}metrics: { listen: "[fe80::1%lo]:9464" }\n${routeAndUpstream()}`,
      'metrics.listen',
      `${listenExpected} "[fe80::1%lo]:9464" (a zone index ("%lo") is not taken: write an address that needs none, a global, unique-local or loopback one, or [::])`,
    ],
    [
      `${LISTEN}admin: { listen: "[::1%lo]:9901", token_env: T }\n${routeAndUpstream()}`,
      'admin.listen',
      `${listenExpected} "[::1%lo]:9901" (a zone index ("%lo") is not taken: write an address that needs none, a global, unique-local or loopback one, or [::])`,
    ],
    [
      LISTEN + routeAndUpstream('[fe80::1%lo]'),
      'routes[0].match.host',
      'expected a host name like api.example.com or *.example.com, got "[fe80::1%lo]" (a request\'s Host never carries a zone index: one with a "%" is refused, so no request would match it)',
    ],
    [
      LISTEN + routeAndUpstream('', 'http://[fe80::1%25eth0]:8080'),
      'upstreams.api.targets[0].url',
      'expected a URL like http://127.0.0.1:3001, got "http://[fe80::1%25eth0]:8080" (a URL\'s IPv6 address takes no zone index: name the target by a global or unique-local address, or by a host name)',
    ],
  ];
  for (const [text, path, message] of cases) assert.deepEqual(problemsOf(text), [[path, message]], path);
});

test('an IPv6 address as a route host without its brackets says to write them: a request names it [::1]', () => {
  for (const host of ['::1', '2001:db8::7'])
    assert.deepEqual(problemsOf(LISTEN + routeAndUpstream(host)), [
      [
        'routes[0].match.host',
        `expected a host name like api.example.com or *.example.com, got "${host}" (an IPv6 address is written in brackets, as a request's Host carries it: [${host}])`,
      ],
    ]);
  assert.equal(problemsOf(LISTEN + routeAndUpstream('[::1]')), 'accepted');
});
