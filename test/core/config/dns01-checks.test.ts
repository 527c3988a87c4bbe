/** `acme.dns01` as `candor check` reads it: each problem at its file, line and field. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { problemsOf, SOURCE, UPSTREAM_AND_ROUTE } from './config-fixture.ts';

const SECRET = Buffer.alloc(32, 9).toString('base64');

const withDns01 = (names: string, acme: string) => `listen:
  - address: 127.0.0.1:443
    tls:
      acme: { names: [${names}] }
acme:
  storage: /tmp/candor-acme-test
${acme}
${UPSTREAM_AND_ROUTE}`;

const DNS01 = `  dns01:
    server: 192.0.2.53:53
    zone: example.test
    tsig: { name: candor-key, secret_env: TSIG_SECRET }`;

const lines = (text: string, env: NodeJS.ProcessEnv = { TSIG_SECRET: SECRET }) =>
  problemsOf(text, env).map((p) => `${p.line} ${p.path}: ${p.message}`);

test('a wildcard and its apex by DNS-01 load with the defaults: dns-01 alone, hmac-sha256, two minutes to propagate', () => {
  const config = parseConfig(withDns01('"*.example.test", example.test', DNS01), SOURCE, {
    TSIG_SECRET: SECRET,
  });
  assert.deepEqual(config.acme?.challenges, ['dns-01']);
  assert.deepEqual(config.acme?.dns01, {
    server: { address: '192.0.2.53:53', host: '192.0.2.53', port: 53 },
    zone: 'example.test',
    tsig: { name: 'candor-key', algorithm: 'hmac-sha256', secretEnv: 'TSIG_SECRET' },
    propagationTimeout: 120_000,
  });
});

test('a wildcard needs dns-01 among the challenges, and dns-01 needs acme.dns01, each at its line', () => {
  assert.deepEqual(lines(withDns01('"*.example.test"', `  challenges: [http-01]\n${DNS01}`)), [
    '4 listen[0].tls.acme.names[0]: *.example.test: a wildcard is proven only by DNS-01, which acme.challenges leaves out: add dns-01',
  ]);
  assert.deepEqual(lines(withDns01('example.test', '  challenges: [http-01, dns-01]')), [
    '7 acme.challenges[1]: dns-01 is answered by a dynamic update of the zone: add acme.dns01 (server, zone, tsig)',
  ]);
});

test('a name proven in the zone must be in it: a wildcard always, every name when dns-01 is the only challenge', () => {
  assert.deepEqual(lines(withDns01('"*.other.test", www.other.test', DNS01)), [
    '4 listen[0].tls.acme.names[0]: *.other.test is not in acme.dns01.zone example.test: its DNS-01 record could not be written there',
    '4 listen[0].tls.acme.names[1]: www.other.test is not in acme.dns01.zone example.test: its DNS-01 record could not be written there',
  ]);
  // With http-01 first, www.other.test is proven on port 80: only the wildcard must be in the zone.
  const mixed = withDns01('"*.example.test", www.other.test', `  challenges: [http-01, dns-01]\n${DNS01}`);
  assert.deepEqual(parseConfig(mixed, SOURCE, { TSIG_SECRET: SECRET }).acme?.challenges, [
    'http-01',
    'dns-01',
  ]);
});

test("the TSIG key's secret must be set and base64; the server an address, the algorithm one TSIG has", () => {
  const text = withDns01('"*.example.test"', DNS01);
  assert.deepEqual(lines(text, {}), [
    "10 acme.dns01.tsig.secret_env: the variable TSIG_SECRET is not set: it holds the TSIG key's secret",
  ]);
  assert.deepEqual(lines(text, { TSIG_SECRET: 'not base64!' }), [
    '10 acme.dns01.tsig.secret_env: the variable TSIG_SECRET is not a base64 secret of at least 16 bytes (as keymgr -t or tsig-keygen write it)',
  ]);
  const wrong = text
    .replace('192.0.2.53:53', 'ns1.example.test')
    .replace('secret_env: TSIG_SECRET', 'algorithm: hmac-md5, secret_env: TSIG_SECRET');
  assert.deepEqual(
    problemsOf(wrong, { TSIG_SECRET: SECRET }).map((p) => `${p.line} ${p.path}`),
    ['8 acme.dns01.server', '10 acme.dns01.tsig.algorithm'],
  );
});
