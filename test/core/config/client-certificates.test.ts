/**
 * Client certificates as `candor check` reads them (issue 59, item 3): a listener's
 * `tls.client_certificates` (its CA and CRL files read at load, the mode `require` unless
 * written), a route's `auth.client_certificate` (SANs by type, the identity), and what is refused
 * with its field: a CRL file that holds none, a route that needs a certificate where no listener
 * asks for one, a SAN or an identity in no known form.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { problemsOf, SOURCE } from './config-fixture.ts';

const certs = testCertificates();
const CRL = join(import.meta.dirname, '../../../docs/examples/certs/clients-crl.pem');

const config = (clientCertificates: string, auth: string) => `listen:
  - address: 127.0.0.1:8443
    tls:
      cert: ${certs.localhost.certPath}
      key: ${certs.localhost.keyPath}
${clientCertificates}routes:
  - upstream: api
${auth}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;

const ASKS = `      client_certificates: { ca: ${certs.caPath}, crl: ${CRL} }\n`;

test('client_certificates and client_certificate in their runtime form: mode require by default, SANs by type, the identity', () => {
  const parsed = parseConfig(
    config(
      ASKS,
      `    auth:
      client_certificate: { subjects: [alice], sans: ["dns:Alice.Example.com", "uri:spiffe://example.org/a"], identity: san:uri }
`,
    ),
    SOURCE,
    {},
  );
  assert.deepEqual(parsed.listen[0].tls?.clientCertificates, { ca: certs.caPath, mode: 'require', crl: CRL });
  assert.deepEqual(parsed.routes[0].access?.auth?.clientCertificate, {
    subjects: ['alice'],
    sans: [
      { type: 'dns', value: 'alice.example.com' },
      { type: 'uri', value: 'spiffe://example.org/a' },
    ],
    identity: 'uri',
  });
  const alone = parseConfig(config(ASKS, '    auth: { client_certificate: {} }\n'), SOURCE, {});
  assert.deepEqual(alone.routes[0].access?.auth?.clientCertificate, {
    subjects: [],
    sans: [],
    identity: 'cn',
  });
});

test('a CRL file that holds none, and a CA file that holds no certificate, are refused with their field', () => {
  const notCrl = join(certs.dir, 'not-a-crl.pem');
  writeFileSync(notCrl, certs.ca);
  const problems = problemsOf(
    config(
      `      client_certificates: { ca: ${certs.localhost.keyPath}, crl: ${notCrl} }\n`,
      '    auth: { client_certificate: {} }\n',
    ),
  ).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(problems, [
    `listen[0].tls.client_certificates.ca: ${JSON.stringify(certs.localhost.keyPath)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    `listen[0].tls.client_certificates.crl: ${JSON.stringify(notCrl)} holds no PEM revocation list (-----BEGIN X509 CRL-----)`,
  ]);
});

test('a CRL file whose second list is broken is refused: every list of the file is loaded, not the first alone', () => {
  const lists = readFileSync(CRL, 'latin1');
  const broken = join(certs.dir, 'second-broken-crl.pem');
  writeFileSync(broken, `${lists}-----BEGIN X509 CRL-----\nbm90IGEgbGlzdA==\n-----END X509 CRL-----\n`);
  const problems = problemsOf(
    config(
      `      client_certificates: { ca: ${certs.caPath}, crl: ${broken} }\n`,
      '    auth: { client_certificate: {} }\n',
    ),
  ).map((p) => p.path);
  assert.deepEqual(problems, ['listen[0].tls.client_certificates.crl']);
});

test('a route that needs a certificate where no listener asks for one, a SAN or identity in no known form: refused', () => {
  assert.deepEqual(
    problemsOf(config('', '    auth: { client_certificate: { subjects: [alice] } }\n')).map(
      (p) => `${p.path}: ${p.message}`,
    ),
    [
      'routes[0].auth.client_certificate: no listener asks clients for a certificate, so every request would be refused: set listen[].tls.client_certificates (or client_certificates_from: forwarded behind a TLS terminator that checks them)',
    ],
  );
  const wrong = problemsOf(
    config(ASKS, '    auth: { client_certificate: { sans: ["DNS:a.example.com"], identity: san:cn } }\n'),
  ).map((p) => p.path);
  assert.deepEqual(wrong, [
    'routes[0].auth.client_certificate.sans[0]',
    'routes[0].auth.client_certificate.identity',
  ]);
});

test('a route that needs a certificate reached only on listeners that ask for none (match.listener, match.scheme): refused, naming them', () => {
  const text = (match: string) => `listen:
  - name: mtls
    address: 127.0.0.1:8443
    tls:
      cert: ${certs.localhost.certPath}
      key: ${certs.localhost.keyPath}
${ASKS}  - name: public
    address: 127.0.0.1:8444
    tls:
      cert: ${certs.localhost.certPath}
      key: ${certs.localhost.keyPath}
  - name: plain
    address: 127.0.0.1:8080
routes:
  - match: ${match}
    upstream: api
    auth: { client_certificate: {} }
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;
  const refusal = (listeners: string) =>
    `routes[0].auth.client_certificate: no listener this route is reached on (${listeners}) asks clients for a certificate, so every request would be refused: set listen[].tls.client_certificates on one of them (or client_certificates_from: forwarded behind a TLS terminator that checks them)`;
  const problems = (match: string) => problemsOf(text(match)).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(problems('{ listener: [public, plain] }'), [refusal('public, plain')]);
  assert.deepEqual(problems('{ scheme: http }'), [refusal('plain')]);
  // Reached on a listener that asks too: its requests pass, the others' get the 403 that says why.
  assert.doesNotThrow(() => parseConfig(text('{ listener: [public, mtls] }'), SOURCE, {}));
  assert.doesNotThrow(() => parseConfig(text('{ path: / }'), SOURCE, {}));
});

test('client_certificate goes alone or with one other way; two others are still refused', () => {
  const users = join(certs.dir, 'users.htpasswd');
  writeFileSync(
    users,
    'a:$6$pepper$eAQtOs5x0BUdulxAzj/qxBsQ9HFx8qUdjHdmS5FKODGOE8BFTsJrCWsboofymbihUgXKFBAmtfkCIaLiwpYd11\n',
  );
  const withBasic = parseConfig(
    config(ASKS, `    auth: { client_certificate: {}, basic: { users_file: ${users} } }\n`),
    SOURCE,
    {},
  );
  assert.equal(withBasic.routes[0].access?.auth?.basic?.usersFile, users);
  assert.deepEqual(
    problemsOf(
      config(
        ASKS,
        `    auth: { client_certificate: {}, basic: { users_file: ${users} }, forward: { url: "http://a.test/c" } }\n`,
      ),
    ).map((p) => `${p.path}: ${p.message}`),
    [
      'routes[0].auth: expected one way to authenticate: basic, jwt, forward or oidc (client_certificate may go with one of them)',
    ],
  );
});

test('client_certificates_from: forwarded is a listener that asks for certificates, from a trusted proxy only: without trust_forwarded_from, or beside tls.client_certificates, refused', () => {
  const text = (trust: string, tls: string) => `listen:
  - address: 127.0.0.1:8443
    client_certificates_from: forwarded
${tls}${trust}routes:
  - upstream: api
    auth: { client_certificate: { subjects: [alice] } }
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;
  const trusted = 'trust_forwarded_from: [10.0.0.5]\n';
  const parsed = parseConfig(text(trusted, ''), SOURCE, {});
  assert.equal(parsed.listen[0].clientCertificatesFrom, 'forwarded');
  const own = parseConfig(config(ASKS, ''), SOURCE, {});
  assert.equal(own.listen[0].clientCertificatesFrom, 'handshake');
  assert.deepEqual(
    problemsOf(text('', '')).map((p) => `${p.path}: ${p.message}`),
    [
      'listen[0].client_certificates_from: forwarded, but trust_forwarded_from lists no proxy to take a Client-Cert from, so no request would have a certificate: list the TLS terminator in front in trust_forwarded_from',
    ],
  );
  const both = `    tls:
      cert: ${certs.localhost.certPath}
      key: ${certs.localhost.keyPath}
${ASKS}`;
  assert.deepEqual(
    problemsOf(text(trusted, both)).map((p) => p.path),
    ['listen[0].client_certificates_from'],
  );
});
