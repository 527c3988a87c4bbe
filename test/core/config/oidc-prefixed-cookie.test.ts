/**
 * An OpenID Connect session cookie named with a `__Host-` or `__Secure-` prefix (RFC 6265bis
 * §4.1.3: a browser keeps such a cookie only when it is set with `Secure`, from a secure origin)
 * on a route that answers over plain http: the gateway sets `Secure` only on answers over TLS,
 * so there the browser keeps neither the flow cookie nor the session, and every sign-in ends in
 * the callback's 400. `candor check` warns; bound to TLS, or behind a TLS terminator, it does not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { SOURCE } from './config-fixture.ts';

const ENV = { OIDC_COOKIE: 'x'.repeat(32) };
const { certPath, keyPath } = testCertificates().localhost;
const BOTH = `  - address: 127.0.0.1:8080
  - name: secure
    address: 127.0.0.1:8443
    tls: { cert: ${certPath}, key: ${keyPath} }`;

/** The warnings of a sign-in route whose cookie is `name`, on `listen`, matched by `match`. */
function warned(name: string, listen = BOTH, match = '', more = ''): string[] {
  const config = parseConfig(
    `listen:
${listen}
${more}routes:
  - upstream: app
    match: { path: /${match} }
    auth:
      oidc:
        issuer: https://idp.example.com
        client_id: candor
        cookie: { name: "${name}", secret_env: OIDC_COOKIE }
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
    SOURCE,
    ENV,
  );
  return configWarnings(config).filter((w) => w.includes('cookie.name'));
}

test('a __Host- or __Secure- session cookie on a route that answers over plain http is warned of', () => {
  assert.deepEqual(warned('__Host-session'), [
    "routes[0].auth.oidc.cookie.name: \"__Host-session\" is kept by a browser only when set with Secure (RFC 6265bis §4.1.3), which the gateway sets only on answers over TLS, and this route answers over plain http too (listener '127.0.0.1:8080'): there no sign-in can finish (its flow cookie is never kept); bind the route to the TLS listener (match.scheme: https, or match.listener), or, with a TLS terminator in front of this listener, say so (trust_forwarded_from, or the listener's proxy_protocol)",
  ]);
  assert.equal(warned('__Secure-session').length, 1);
  // RFC 6265bis §4.1.3 matches the prefixes case-insensitively (browsers do now).
  assert.equal(warned('__host-session').length, 1);
});

test('a prefixed session cookie bound to TLS, or behind a terminator, or an unprefixed one, is not warned of', () => {
  assert.deepEqual(warned('__Host-session', BOTH, ', scheme: https'), []);
  assert.deepEqual(warned('__Host-session', BOTH, ', listener: secure'), []);
  assert.deepEqual(
    warned('__Host-session', '  - address: 127.0.0.1:8080', '', 'trust_forwarded_from: [10.0.0.1]\n'),
    [],
  );
  assert.deepEqual(warned('_candor_session'), []);
  assert.deepEqual(warned('host-session'), []);
});
