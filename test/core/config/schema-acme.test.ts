/** `acme` and `listen[].tls.acme` as `candor check` reads them: each wrong value named with its line. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { problemsOf, UPSTREAM_AND_ROUTE } from './config-fixture.ts';

const withAcme = (names: string, acme = 'acme: { storage: /tmp/candor-acme-test }') => `listen:
  - address: 127.0.0.1:80
  - address: 127.0.0.1:443
    tls:
      acme: { names: [${names}] }
${acme}
${UPSTREAM_AND_ROUTE}`;

test('a name no challenge can prove is refused with its line: a wildcard without DNS-01, an IP address', () => {
  const lines = (names: string) =>
    problemsOf(withAcme(names)).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(lines('"*.shop.test"'), [
    '5 listen[1].tls.acme.names[0]: *.shop.test: a wildcard is proven only by DNS-01: add acme.dns01 (server, zone, tsig)',
  ]);
  // An IP address is not a DNS identifier (RFC 8738 gives it one of its own, which Candor does not order).
  assert.deepEqual(lines('shop.test, 203.0.113.7'), [
    '5 listen[1].tls.acme.names[1]: expected a DNS name like www.example.com, or a wildcard like *.example.com (no IP address), got "203.0.113.7"',
  ]);
  assert.deepEqual(lines('"*.*.shop.test", "www.*.shop.test"'), [
    '5 listen[1].tls.acme.names[0]: expected a DNS name like www.example.com, or a wildcard like *.example.com (no IP address), got "*.*.shop.test"',
    '5 listen[1].tls.acme.names[1]: expected a DNS name like www.example.com, or a wildcard like *.example.com (no IP address), got "www.*.shop.test"',
  ]);
});

test('the directory must be https, and renew_before above zero, each named with its line', () => {
  const problems = problemsOf(
    withAcme(
      'shop.test',
      'acme:\n  directory: "http://ca.test/directory"\n  renew_before: 0s\n  storage: /tmp/x',
    ),
  ).map((p) => `${p.line} ${p.path}`);
  assert.deepEqual(problems, ['7 acme.directory', '8 acme.renew_before']);
});
