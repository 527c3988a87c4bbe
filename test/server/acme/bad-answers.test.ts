/**
 * A CA that answers what no certificate can be made of, on a real HTTPS server (the fake CA of
 * test/helpers/fake-acme-ca.ts, which issues without validating). Pebble never does this; a CA
 * with a bug, or something in the way that is not the CA, may.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type FakeAcmeCaOptions, startFakeAcmeCa } from '../../helpers/fake-acme-ca.ts';
import { certificateFor, signedRequest } from '../../helpers/named-certs.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { samples, sampleValue } from '../../observe/metrics/scrape.ts';

/** A gateway ordering `name` from the fake CA, its storage in a fresh folder; `held` is stored first. */
async function orderingFrom(
  options: FakeAcmeCaOptions,
  name: string,
  held?: { certPath: string; keyPath: string },
): Promise<{ gw: TestGateway; store: string; tlsPort: number; close(): Promise<void> }> {
  const ca = await startFakeAcmeCa(options);
  const dir = tempDir('candor-acme-bad-');
  const store = join(dir, 'acme');
  if (held !== undefined) {
    mkdirSync(join(store, 'certificates', name), { recursive: true });
    copyFileSync(held.certPath, join(store, 'certificates', name, 'chain.pem'));
    copyFileSync(held.keyPath, join(store, 'certificates', name, 'key.pem'));
  }
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [${name}] }
acme:
  directory: ${ca.directory}
  ca: ${testCertificates().caPath}
  challenges: [http-01]
  renew_before: 720h
  storage: ${store}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`);
  return {
    gw,
    store,
    tlsPort,
    close: async () => {
      await gw.close();
      await ca.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const failed = (gw: TestGateway) => (gw.gateway.status().certificates ?? [])[0]?.failures === 1;

test('a chain from the CA that is not a certificate is a failed order, not "certificate issued" with a not_after of 1970', {
  timeout: 30_000,
}, async () => {
  const run = await orderingFrom(
    { certificate: { status: 200, body: '<html>maintenance</html>\n' } },
    'first.shop.test',
  );
  try {
    await waitUntil('the order failed', () => failed(run.gw));
    const [cert] = run.gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'missing');
    assert.equal(cert.last_error?.type, 'candor:bad-certificate');
    assert.match(
      cert.last_error?.detail ?? '',
      /^the CA's certificate for first\.shop\.test is not a PEM certificate/,
    );
    const line = run.gw.logs.find((l) => l.msg === 'certificate order failed');
    assert.equal(line?.acme_error, 'candor:bad-certificate');
    assert.equal(run.gw.logs.filter((l) => l.msg === 'certificate issued').length, 0);
    // No certificate for the name: its handshake fails with an alert, nothing made up is served.
    const refused = await new Promise<Error>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: run.tlsPort, servername: 'first.shop.test', rejectUnauthorized: false },
        () => reject(new Error(`a handshake served ${socket.getPeerCertificate().subject?.CN}`)),
      );
      socket.on('error', resolve);
    });
    assert.match(refused.message, /alert handshake failure.*SSL alert number 40/s);
    const all = samples((await run.gw.gateway.metrics.exposition()).text);
    assert.equal(sampleValue(all, 'candor_acme_orders_total', { name: 'first.shop.test', result: 'ok' }), 0);
    assert.equal(
      sampleValue(all, 'candor_acme_orders_total', { name: 'first.shop.test', result: 'failed' }),
      1,
    );
  } finally {
    await run.close();
  }
});

test("a renewal whose chain is not for the request's key keeps the valid certificate, on disk and served", {
  timeout: 30_000,
}, async () => {
  // Valid for 2 days: due under a 720h renew_before. The CA answers a certificate of its own key.
  const held = certificateFor(['renew.shop.test']);
  const run = await orderingFrom({}, 'renew.shop.test', held);
  try {
    await waitUntil('the renewal failed', () => failed(run.gw));
    const [cert] = run.gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    assert.equal(cert.last_error?.type, 'candor:bad-certificate');
    assert.equal(
      cert.last_error?.detail,
      "the CA's certificate for renew.shop.test is not for the key its request was signed with",
    );
    assert.equal(
      run.gw.logs.find((l) => l.msg === 'certificate renewal failed')?.acme_error,
      'candor:bad-certificate',
    );
    // Before, it was written over the valid one: a restart then had no certificate to serve.
    const stored = join(run.store, 'certificates/renew.shop.test');
    assert.equal(readFileSync(join(stored, 'chain.pem'), 'utf8'), held.cert);
    assert.equal(readFileSync(join(stored, 'key.pem'), 'utf8'), readFileSync(held.keyPath, 'utf8'));
    const served = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: run.tlsPort, servername: 'renew.shop.test', ca: testCertificates().ca },
        () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    assert.equal(served, new X509Certificate(held.cert).fingerprint256);
  } finally {
    await run.close();
  }
});

test('an order the CA answers with no ACME order (an HTML page) is its bad answer, not "the ACME server could not be reached"', {
  timeout: 30_000,
}, async () => {
  const run = await orderingFrom({ newOrder: { status: 201, body: '<html>hello</html>' } }, 'page.shop.test');
  try {
    await waitUntil('the order failed', () => failed(run.gw));
    const [cert] = run.gw.gateway.status().certificates ?? [];
    assert.equal(cert.last_error?.type, 'candor:bad-answer');
    assert.match(
      cert.last_error?.detail ?? '',
      /^https:\/\/localhost:\d+\/order answered 201 with no ACME order$/,
    );
    const all = samples((await run.gw.gateway.metrics.exposition()).text);
    assert.equal(
      sampleValue(all, 'candor_acme_order_failures', {
        name: 'page.shop.test',
        error_type: 'candor:bad-answer',
      }),
      1,
    );
  } finally {
    await run.close();
  }
});

/** The certificate a handshake for `name` is served, by fingerprint. */
function servedFingerprint(port: number, name: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port, servername: name, ca: testCertificates().ca },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

/** A renewal from a CA answering `issue`: fails with `detail`, the held certificate kept on disk and served. */
async function renewalRefused(
  name: string,
  issue: (csrPem: string) => string,
  detail: RegExp,
): Promise<void> {
  const held = certificateFor([name]);
  const run = await orderingFrom({ issue }, name, held);
  try {
    await waitUntil('the renewal failed', () => failed(run.gw));
    const [cert] = run.gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    assert.equal(cert.last_error?.type, 'candor:bad-certificate');
    assert.match(cert.last_error?.detail ?? '', detail);
    assert.equal(run.gw.logs.filter((l) => l.msg === 'certificate renewed').length, 0);
    const stored = join(run.store, 'certificates', name);
    assert.equal(readFileSync(join(stored, 'chain.pem'), 'utf8'), held.cert);
    assert.equal(await servedFingerprint(run.tlsPort, name), new X509Certificate(held.cert).fingerprint256);
  } finally {
    await run.close();
  }
}

test("a renewal whose chain's leaf is good but whose next certificate is not one keeps the valid certificate, served", {
  timeout: 30_000,
}, async () => {
  // The leaf is for the request's key and names; the intermediate is damaged. Saved, it was
  // written over the valid one, and every handshake for the name then failed (no context can
  // be made of the chain), and again after a restart.
  await renewalRefused(
    'chain.shop.test',
    (csr) =>
      `${signedRequest(csr, ['chain.shop.test'], 60)}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
    /^the CA's chain for chain\.shop\.test cannot be served with its key \(.+\)$/,
  );
});

test('a renewal whose leaf has already ended keeps the valid certificate, served', {
  timeout: 30_000,
}, async () => {
  await renewalRefused(
    'ended.shop.test',
    (csr) => signedRequest(csr, ['ended.shop.test'], -1),
    /^the CA's certificate for ended\.shop\.test is not valid now \(from .+ to .+\)$/,
  );
});

test("a directory without newAccount is not an ACME directory, told as the CA's answer, not this gateway's failure", {
  timeout: 30_000,
}, async () => {
  const body = JSON.stringify({ newNonce: '{base}/nonce', newOrder: '{base}/order' });
  const run = await orderingFrom({ directory: { status: 200, body } }, 'dir.shop.test');
  try {
    await waitUntil('the order failed', () => failed(run.gw));
    const [cert] = run.gw.gateway.status().certificates ?? [];
    assert.equal(cert.last_error?.type, 'candor:directory', JSON.stringify(cert.last_error));
    assert.match(
      cert.last_error?.detail ?? '',
      /^https:\/\/localhost:\d+\/dir is not an ACME directory \(status 200\)$/,
    );
  } finally {
    await run.close();
  }
});
