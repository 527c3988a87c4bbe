/**
 * A listener with 200 names over 112 certificates chosen by SNI (exact names two to a
 * certificate, wildcards among them): each name gets its certificate in a real handshake, a name
 * one label under a wildcard gets the wildcard's, a name none carries and a client without SNI get
 * the default `cert`; of two certificates for one name the first listed serves it (docs/configuration.md,
 * `listen[].tls.certificates`), and `candor check` warns of the later one, which is never served
 * for that name: a renewed certificate appended after the old one would otherwise go unserved,
 * unsaid, until the old one expired.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import type { ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type CertificateFiles, testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type Gateway, startGateway } from '../../../src/server/gateway/gateway.ts';
import { certificateFor } from '../../helpers/named-certs.ts';

const EXACT_CERTS = 90; // two names each: 180 names
const WILDCARDS = 20;
const SOURCE = '/etc/candor/candor.yaml';

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** The certificate the listener presents for `servername` (undefined: no SNI). */
function served(port: number, servername: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { port, host: '127.0.0.1', servername, ca: testCertificates().ca, rejectUnauthorized: false },
      () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

const listed: { names: string[]; files: CertificateFiles }[] = [];
let first: CertificateFiles;
let laterSame: CertificateFiles;
let laterPartly: CertificateFiles;
let laterWildcard: CertificateFiles;
let text: string;
let app: Fault;
let gateway: Gateway;
let port: number;

before(async () => {
  for (let i = 0; i < EXACT_CERTS; i++) {
    const names = [`n${i}a.example.net`, `n${i}b.example.net`];
    listed.push({ names, files: certificateFor(names) });
  }
  for (let j = 0; j < WILDCARDS; j++) {
    const names = [`*.w${j}.example.net`];
    listed.push({ names, files: certificateFor(names) });
  }
  first = listed[0]?.files as CertificateFiles;
  // Listed after the ones above: one naming only a name certificates[0] serves, one naming a
  // name certificates[1] serves and one of its own, one a wildcard certificates[90] serves.
  laterSame = certificateFor(['n0a.example.net']);
  laterPartly = certificateFor(['n1b.example.net', 'fresh.example.net']);
  laterWildcard = certificateFor(['*.w0.example.net']);
  const all = [...listed.map((c) => c.files), laterSame, laterPartly, laterWildcard];
  app = await startEcho();
  text = `listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${testCertificates().localhost.certPath}
      key: ${testCertificates().localhost.keyPath}
      certificates:
${all.map((c) => `        - { cert: ${c.certPath}, key: ${c.keyPath} }\n`).join('')}routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`;
  gateway = await startGateway(parseConfig(text, SOURCE, {}), {
    logger: createLoggerOn({ write: () => true }, 'silent', 'edge'),
  });
  port = gateway.listeners[0].port();
});

after(async () => {
  await gateway?.close();
  await app?.close();
});

test('each of 200 names gets its certificate; a name none carries, and no SNI, the default', async () => {
  let names = 0;
  for (const { names: carried, files } of listed) {
    for (const name of carried) {
      const asked = name.startsWith('*.') ? `host${names}${name.slice(1)}` : name;
      assert.equal(await served(port, asked), fingerprint(files.cert), asked);
      names++;
    }
  }
  assert.equal(names, 200);
  const localhost = fingerprint(testCertificates().localhost.cert);
  assert.equal(await served(port, 'unknown.example.net'), localhost, 'a name no certificate carries');
  assert.equal(await served(port, 'a.b.w3.example.net'), localhost, 'a wildcard covers one label');
  assert.equal(await served(port, undefined), localhost, 'no SNI');
});

test('of two certificates for one name the first listed serves it; the later serves its other names', async () => {
  assert.equal(await served(port, 'n0a.example.net'), fingerprint(first.cert));
  assert.equal(await served(port, 'n1b.example.net'), fingerprint(listed[1]?.files.cert as string));
  assert.equal(await served(port, 'fresh.example.net'), fingerprint(laterPartly.cert));
  assert.equal(
    await served(port, 'x.w0.example.net'),
    fingerprint(listed[EXACT_CERTS]?.files.cert as string),
  );
});

test('candor check warns of each certificate a name of which an earlier one serves, and of none other', () => {
  const warnings: ConfigProblem[] = [];
  parseConfig(text, SOURCE, {}, { warnings });
  const told = warnings.filter((w) => w.path.includes('certificates')).map((w) => `${w.path}: ${w.message}`);
  const n = listed.length;
  assert.deepEqual(told, [
    `listen[0].tls.certificates[${n}].cert: never served: each name it carries (n0a.example.net) is served by a certificate listed before it, certificates[0] (the first listed that names a host serves it); remove it, or list it before that one`,
    `listen[0].tls.certificates[${n + 1}].cert: not served for n1b.example.net: certificates[1], listed before it, serves that name (the first listed that names a host serves it); list this one before it to serve it there`,
    `listen[0].tls.certificates[${n + 2}].cert: never served: each name it carries (*.w0.example.net) is served by a certificate listed before it, certificates[${EXACT_CERTS}] (the first listed that names a host serves it); remove it, or list it before that one`,
  ]);
});
