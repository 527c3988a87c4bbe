/**
 * A real `candor serve` says in its log what `candor check` warns of certificates' and revocation
 * lists' dates, at its start and after each reload: an expired listener certificate at start, and
 * a revocation list past its next update copied in place then reloaded (SIGHUP), with which every
 * client certificate of its CA is refused (CRL_HAS_EXPIRED, docs/configuration.md's
 * `client_certificates.crl`): a real TLS client with a good certificate is served before, and
 * closed unanswered after.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeClientCa } from '../../helpers/client-ca.ts';
import { expiredCertificateFor } from '../../helpers/named-certs.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const ca = makeClientCa();
after(() => ca.remove());

/** The status of a GET with alice's certificate, or the error that ended it. */
function get(port: number, client: { cert: Buffer; key: Buffer }): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false, ...client },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
    req.end();
  });
}

const warned = (serve: ServeProcess, field: string) =>
  serve.lines.filter((line) => line.level === 'warn' && line.field === field).map((line) => line.msg);

test('serve warns of an expired certificate at start, and of a revocation list past its next update after a reload', {
  timeout: 60_000,
}, async () => {
  const served = expiredCertificateFor(['localhost']);
  const alice = ca.issue('alice');
  const path = join(tempDir('candor-cert-dates-'), 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
    tls:
      cert: ${served.certPath}
      key: ${served.keyPath}
      client_certificates: { ca: ${ca.ca}, crl: ${ca.crl} }
routes:
  - redirect: { location: "https://example.com/" }
`,
  );
  const serve = await startServe(path, 1);
  try {
    assert.deepEqual(warned(serve, 'listen[0].tls.cert'), [
      `"${served.certPath}" (CN=localhost, DNS:localhost) expired on 2020-01-02T00:00:00Z (CERT_HAS_EXPIRED): it is served, and every client refuses it; renew it`,
    ]);
    assert.deepEqual(warned(serve, 'listen[0].tls.client_certificates.crl'), []);
    assert.equal(await get(serve.port, alice), 308);

    ca.dateCrl('20250101000000Z', '20250108000000Z');
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1);
    await serve.waitForLines(
      `"${ca.crl}": list 1 (issuer CN=clients) was due for its next update on 2025-01-08T00:00:00Z: every client certificate of its CA is refused (CRL_HAS_EXPIRED) until a new list is put in its place`,
      1,
    );
    assert.deepEqual(warned(serve, 'listen[0].tls.client_certificates.crl').length, 1);
    // The warning says what the handshake does: the same good certificate is refused now.
    assert.equal(await get(serve.port, alice), 'ECONNRESET');
    await serve.waitForLines('TLS handshake failed', 1);
    const failed = serve.lines.find((line) => line.msg === 'TLS handshake failed');
    assert.equal(failed?.details, 'CRL_HAS_EXPIRED');
    assert.equal(failed?.reason, 'client_certificate_refused');
  } finally {
    await serve.stop();
  }
});
