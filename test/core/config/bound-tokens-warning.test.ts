/**
 * `candor check` on a route whose `auth.jwt.bound_tokens` is written `require` or `check` where
 * no listener the route can be reached on asks clients for a certificate
 * (`listen[].tls.client_certificates`): a token bound to a certificate (RFC 8705 §3) is then
 * refused on every request, and under `require` so is every token. Told as a warning at the
 * field's line; a route reached on a listener that asks, the default `check`, and `ignore` get
 * none.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { SOURCE } from './config-fixture.ts';

const certs = testCertificates();

const config = (routes: string) => `listen:
  - name: mtls
    address: 127.0.0.1:8443
    tls:
      cert: ${certs.localhost.certPath}
      key: ${certs.localhost.keyPath}
      client_certificates: { ca: ${certs.caPath}, mode: optional }
  - name: public
    address: 127.0.0.1:8444
    tls:
      cert: ${certs.localhost.certPath}
      key: ${certs.localhost.keyPath}
  - name: plain
    address: 127.0.0.1:8080
routes:
${routes}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;

const route = (name: string, listener: string, bound: string) => `  - name: ${name}
    match: { path: /${name}, listener: ${listener} }
    upstream: api
    auth:
      jwt:
        jwks_url: https://idp.test/jwks
        audiences: [api]
${bound === '' ? '' : `        bound_tokens: ${bound}\n`}`;

function warningsOf(text: string): string[] {
  const warnings: ConfigProblem[] = [];
  parseConfig(text, SOURCE, {}, { warnings });
  return warnings
    .filter((w) => w.path.includes('bound_tokens'))
    .map((w) => `${w.file === SOURCE ? '' : `${w.file} `}${w.line} ${w.path}: ${w.message}`);
}

const REQUIRE =
  'require, but no listener this route is reached on (public, plain) asks clients for a certificate (listen[].tls.client_certificates, or client_certificates_from: forwarded): every token is refused (401 invalid_token); set client_certificates on one of them, or bound_tokens: check';
const CHECK =
  'check, but no listener this route is reached on (public) asks clients for a certificate (listen[].tls.client_certificates, or client_certificates_from: forwarded): every token bound to one (cnf x5t#S256) is refused (401 invalid_token); set client_certificates on one of them, or bound_tokens: ignore where a proxy in front checks the binding';

test('bound_tokens require or check on a route no listener of which asks for a certificate: warned at the field’s line', () => {
  assert.deepEqual(
    warningsOf(
      config(`${route('strict', '[public, plain]', 'require')}${route('loose', 'public', 'check')}`),
    ),
    [`23 routes[0].auth.jwt.bound_tokens: ${REQUIRE}`, `31 routes[1].auth.jwt.bound_tokens: ${CHECK}`],
  );
});

test('a route reachable on a listener that asks, the default check, and ignore: no warning', () => {
  assert.deepEqual(
    warningsOf(
      config(
        `${route('a', '[public, mtls]', 'require')}${route('b', 'mtls', 'check')}${route('c', 'public', '')}${route('d', 'plain', 'ignore')}`,
      ),
    ),
    [],
  );
});
