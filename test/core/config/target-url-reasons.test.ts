/**
 * A target URL the WHATWG parser refuses says why, as a listen address does (errors.test.ts):
 * an IPv6 address outside brackets, a bracket never closed, brackets around no IPv6 address, a
 * port past 65535. Each was `expected a URL like http://127.0.0.1:3001` alone, of a URL that
 * reads like that example but for one character.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { SOURCE } from './config-fixture.ts';

function problemsOf(url: string): string[][] | 'accepted' {
  try {
    parseConfig(
      `listen:\n  - address: 127.0.0.1:8080\nroutes:\n  - match: { path: / }\n    upstream: api\nupstreams:\n  api:\n    targets:\n      - url: "${url}"\n`,
      SOURCE,
      {},
    );
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => [p.path, p.message]);
    throw error;
  }
  return 'accepted';
}

const EXPECTED = 'expected a URL like http://127.0.0.1:3001, got';

test('a target URL refused as no URL says why: brackets, their IPv6 address, the port', () => {
  const cases: [string, string][] = [
    ['http://::1:8080', '(an IPv6 address is written in brackets, the port after them: http://[::1]:8080)'],
    [
      'https://2001:db8::5:8443',
      '(an IPv6 address is written in brackets, the port after them: http://[::1]:8080)',
    ],
    ['http://[::1:8080', '(its "[" is never closed by a "]")'],
    ['http://[1.2.3.4]:80', '(between brackets stands an IPv6 address)'],
    ['http://[::1]:99999', '(a port is a number from 1 to 65535)'],
    ['http://127.0.0.1:70000', '(a port is a number from 1 to 65535)'],
  ];
  for (const [url, why] of cases)
    assert.deepEqual(problemsOf(url), [['upstreams.api.targets[0].url', `${EXPECTED} "${url}" ${why}`]], url);
  // Written right, each is taken.
  for (const url of ['http://[::1]:8080', 'https://[2001:db8::5]:8443', 'http://[::ffff:127.0.0.1]:80'])
    assert.equal(problemsOf(url), 'accepted', url);
});
