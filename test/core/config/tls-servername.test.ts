/**
 * `upstreams.*.tls.servername` is a host name: the SNI sent and the name the certificate must
 * carry. An IP address is no server name (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not
 * permitted"): `::1` was taken and sent as the SNI (node:tls only warns, DEP0123), and `[::1]`
 * was sent too, the certificate then checked against "[::1]", a name none carries: every
 * request a 502 tls_certificate_error, from a config `candor check` passed. Without
 * `servername`, an IP-literal target sends none and its certificate is checked against its address.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { SOURCE } from './config-fixture.ts';

const withServername = (name: string) => `listen:
  - address: 127.0.0.1:8080
routes:
  - upstream: api
upstreams:
  api:
    targets: [{ url: "https://[::1]:8443" }]
    tls: { servername: ${name} }
`;

/** Each problem's message; `accepted` when the config loads. */
function problemsOf(text: string): string[] | 'accepted' {
  try {
    parseConfig(text, SOURCE, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return 'accepted';
}

test('tls.servername: an IP address in any spelling, or no host name, is refused; a host name is taken', () => {
  const ip = (got: string) => [
    `upstreams.api.tls.servername: expected a host name like api.internal, got "${got}" (an IP address is never a TLS server name, RFC 6066 §3: without servername, an IP-literal target sends none and its certificate is checked against its address)`,
  ];
  assert.deepEqual(problemsOf(withServername('"::1"')), ip('::1'));
  assert.deepEqual(problemsOf(withServername('"[::1]"')), ip('[::1]'));
  assert.deepEqual(problemsOf(withServername('127.0.0.1')), ip('127.0.0.1'));
  // An absolute name's dot, which the SNI goes without (connector.ts): an address still.
  assert.deepEqual(problemsOf(withServername('127.0.0.1.')), ip('127.0.0.1.'));
  assert.deepEqual(problemsOf(withServername('"fe80::1%eth0"')), ip('fe80::1%eth0'));
  assert.deepEqual(problemsOf(withServername('"api internal"')), [
    'upstreams.api.tls.servername: expected a host name like api.internal, got "api internal"',
  ]);
  for (const name of ['api.internal', 'localhost', 'web-1.example.com', 'api.internal.'])
    assert.equal(problemsOf(withServername(name)), 'accepted', name);
});
