/**
 * Certificates and revocation lists that load fine but whose dates make every peer refuse them:
 * `candor check` (and serve's start and reload, which run the same warnings) tells each, naming
 * the file, the certificate (CN, SANs) or list, and the date. A listener's certificate expired,
 * not yet valid, or in its last days; a revocation list past its next update, which refuses every
 * certificate of its CA (CRL_HAS_EXPIRED, docs/configuration.md's `crl` rows), or not yet in
 * force; an upstream's CA or client certificate out of its dates. Fresh ones, and a short-lived
 * certificate (two days, all of its life ahead), are not told of.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { makeClientCa } from '../../helpers/client-ca.ts';
import { certificateFor, expiredCertificateFor } from '../../helpers/named-certs.ts';

const listed = makeClientCa();
const upstreamCa = makeClientCa();
after(() => {
  listed.remove();
  upstreamCa.remove();
});

/** openssl's GeneralizedTime, `days` from now. */
const generalized = (days: number) =>
  `${new Date(Date.now() + days * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

function warningsOf(text: string): string[] {
  const warnings: ConfigProblem[] = [];
  parseConfig(text, '/etc/candor/candor.yaml', {}, { warnings });
  return warnings.map((w) => `${w.path}: ${w.message}`);
}

test('expired, not yet valid and expiring certificates, and revocation lists out of date, are warned of', () => {
  const expired = expiredCertificateFor(['old.example']);
  const dir = dirname(listed.ca);
  const file = (name: string) => join(dir, `${name}.pem`);
  listed.issue('later', { server: true, san: 'DNS:later.example', startDate: '20990101000000Z' });
  // Its end once: the assertion below names the same second.
  const endsAt = generalized(3.5);
  listed.issue('ending', {
    server: true,
    san: 'DNS:ending.example',
    startDate: generalized(-80),
    endDate: endsAt,
  });
  listed.dateCrl('20250101000000Z', '20250108000000Z');
  upstreamCa.dateCrl('20990101000000Z', '20990108000000Z');
  upstreamCa.issue('gateway', { endDate: '20250201000000Z' });
  const upstreamDir = dirname(upstreamCa.ca);
  const told = warningsOf(`listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${expired.certPath}
      key: ${expired.keyPath}
      certificates:
        - { cert: ${file('later')}, key: ${join(dir, 'later.key')} }
        - { cert: ${file('ending')}, key: ${join(dir, 'ending.key')} }
      client_certificates: { ca: ${listed.ca}, crl: ${listed.crl} }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "https://127.0.0.1:9" }]
    tls:
      ca: ${expired.certPath}
      crl: ${upstreamCa.crl}
      cert: ${join(upstreamDir, 'gateway.pem')}
      key: ${join(upstreamDir, 'gateway.key')}
`);
  const ending = new Date(
    Date.parse(`${endsAt.replace(/(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z/, '$1-$2-$3T$4:$5:$6Z')}`),
  );
  assert.deepEqual(told, [
    `listen[0].tls.cert: "${expired.certPath}" (CN=old.example, DNS:old.example) expired on 2020-01-02T00:00:00Z (CERT_HAS_EXPIRED): it is served, and every client refuses it; renew it`,
    `listen[0].tls.certificates[0].cert: "${file('later')}" (CN=later, DNS:later.example) is not valid before 2099-01-01T00:00:00Z (CERT_NOT_YET_VALID): it is served, and every client refuses it; renew it`,
    `listen[0].tls.certificates[1].cert: "${file('ending')}" (CN=ending, DNS:ending.example) expires on ${ending.toISOString().replace('.000Z', 'Z')}, in 4 day(s): from then every client refuses it; renew it`,
    `listen[0].tls.client_certificates.crl: "${listed.crl}": list 1 (issuer CN=clients) was due for its next update on 2025-01-08T00:00:00Z: every client certificate of its CA is refused (CRL_HAS_EXPIRED) until a new list is put in its place`,
    `upstreams.app.tls.ca: "${expired.certPath}": CA certificate 1 (CN=old.example, DNS:old.example) expired on 2020-01-02T00:00:00Z (CERT_HAS_EXPIRED), so every target's certificate it issued is refused (502); replace it`,
    `upstreams.app.tls.crl: "${upstreamCa.crl}": list 1 (issuer CN=clients) is not in force before 2099-01-01T00:00:00Z (its this update): every target's certificate of its CA is refused (CRL_NOT_YET_VALID) until then; check its dates or the clock`,
    `upstreams.app.tls.cert: "${join(upstreamDir, 'gateway.pem')}" (CN=gateway, email:gateway@example.com) expired on 2025-02-01T00:00:00Z (CERT_HAS_EXPIRED): a target that asks for a client certificate refuses it; renew it`,
  ]);
});

test('fresh certificates and lists, short-lived ones among them, are not warned of', () => {
  const fresh = certificateFor(['fresh.example']);
  const ca = makeClientCa();
  try {
    const told = warningsOf(`listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${fresh.certPath}
      key: ${fresh.keyPath}
      client_certificates: { ca: ${ca.ca}, crl: ${ca.crl} }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "https://127.0.0.1:9" }]
    tls: { ca: ${ca.ca}, crl: ${ca.crl} }
`);
    assert.deepEqual(told, []);
  } finally {
    ca.remove();
  }
});
