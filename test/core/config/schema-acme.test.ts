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

test('a name no challenge can prove is refused with its line: a wildcard, an IP address', () => {
  const lines = (names: string) =>
    problemsOf(withAcme(names)).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(lines('"*.shop.test"'), [
    '5 listen[1].tls.acme.names[0]: expected a DNS name like www.example.com (no wildcard: HTTP-01 and TLS-ALPN-01 cannot prove one; no IP address), got "*.shop.test"',
  ]);
  // An IP address is not a DNS identifier (RFC 8738 gives it one of its own, which Candor does not order).
  assert.deepEqual(lines('shop.test, 203.0.113.7'), [
    '5 listen[1].tls.acme.names[1]: expected a DNS name like www.example.com (no wildcard: HTTP-01 and TLS-ALPN-01 cannot prove one; no IP address), got "203.0.113.7"',
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
