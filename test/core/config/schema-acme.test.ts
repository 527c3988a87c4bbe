/** `acme` and `listen[].tls.acme` as `candor check` reads them: each wrong value named with its line. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE, UPSTREAM_AND_ROUTE } from './config-fixture.ts';

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

test('a name written in Unicode is refused with its A-label form to write, as clients send it in SNI', () => {
  const lines = (names: string) =>
    problemsOf(withAcme(names)).map((p) => `${p.line} ${p.path}: ${p.message}`);
  const expected =
    'expected a DNS name like www.example.com, or a wildcard like *.example.com (no IP address)';
  assert.deepEqual(lines('bücher.test, "BÜCHER.test", 😀.test'), [
    `5 listen[1].tls.acme.names[0]: ${expected}, got "bücher.test" (a name outside ASCII is written in its A-label form, as clients send it: "xn--bcher-kva.test")`,
    `5 listen[1].tls.acme.names[1]: ${expected}, got "BÜCHER.test" (a name outside ASCII is written in its A-label form, as clients send it: "xn--bcher-kva.test")`,
    `5 listen[1].tls.acme.names[2]: ${expected}, got "😀.test" (a name outside ASCII is written in its A-label form, as clients send it: "xn--e28h.test")`,
  ]);
  // No advice where the A-label would be refused too (a space is no name in any form), and none
  // for a name already in ASCII; the A-label itself is taken.
  assert.deepEqual(lines('"bü cher.test", "bad_name!.test"'), [
    `5 listen[1].tls.acme.names[0]: ${expected}, got "bü cher.test"`,
    `5 listen[1].tls.acme.names[1]: ${expected}, got "bad_name!.test"`,
  ]);
  const config = parseConfig(withAcme('xn--bcher-kva.test'), SOURCE, {});
  assert.deepEqual(config.listen[1].tls?.acme?.names, ['xn--bcher-kva.test']);
});

test('an acme.email the CA cannot take as a mailto address is refused with its line: the CA would refuse every order invalidContact', () => {
  const email = (value: string) =>
    problemsOf(withAcme('shop.test', `acme:\n  email: ${JSON.stringify(value)}\n  storage: /tmp/x`)).map(
      (p) => `${p.line} ${p.path}: ${p.message}`,
    );
  const expected =
    'expected an email address for the CA to write to (the address alone, as ops@example.com: no mailto:, no name or <>, no ?query)';
  // Sent as `mailto:mailto:ops@shop.test`, `mailto:ops@shop.test?subject=x`, … : pebble and Let's
  // Encrypt answer `invalidContact` to the account, so no certificate is ever ordered.
  for (const value of [
    'mailto:ops@shop.test',
    'ops@shop.test?subject=x',
    'ops@shop.test,dev@shop.test',
    '<ops@shop.test>',
    'ops@shop.test;dev@shop.test',
    '"o p"@shop.test',
  ])
    assert.deepEqual(email(value), [`7 acme.email: ${expected}, got ${JSON.stringify(value)}`], value);
  for (const value of ['ops@shop.test', 'ops+acme@shop.test', "o'brien.team@mail.shop.test"]) {
    assert.equal(
      parseConfig(withAcme('shop.test', `acme:\n  email: "${value}"\n  storage: /tmp/x`), SOURCE, {}).acme
        ?.email,
      value,
    );
  }
});

test('acme.challenges naming a challenge twice is told so, not "expected a list …, got a list"', () => {
  const problems = problemsOf(
    withAcme('shop.test', 'acme:\n  challenges: [http-01, http-01]\n  storage: /tmp/x'),
  ).map((p) => `${p.line} ${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    '7 acme.challenges: expected a list of challenges from http-01, tls-alpn-01, dns-01, each once, got a list',
  ]);
});
