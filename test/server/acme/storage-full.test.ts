/**
 * `acme.storage` on a disk that fills between the order and its storing (a real 256 KiB tmpfs,
 * filled to its last byte as the CA hands the certificate over; the fake CA of
 * test/helpers/fake-acme-ca.ts, which issues without validating). The CA issued the certificate
 * whether or not the gateway could keep it, and counts it: Let's Encrypt allows five for the same
 * names a week. The gateway holds it and stores it at the next try, once there is room, with no
 * second order; it threw it away and ordered anew at each try, so a disk full for half an hour
 * (tries at 1, 2, 4, 8 and 16 minutes) used the week's five, and the CA then refused the name for
 * days after the disk had room.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { startFakeAcmeCa } from '../../helpers/fake-acme-ca.ts';
import { fillUp, freeUp, smallDisk } from '../../helpers/faulty-disk.ts';
import { signedRequest } from '../../helpers/named-certs.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

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

test('a certificate issued that a full disk cannot take is stored at the next try once there is room, not ordered again', {
  timeout: 150_000,
}, async (t) => {
  const disk = smallDisk(t, '256k');
  if (disk === undefined) return;
  const name = 'full.shop.test';
  let issued: string | undefined;
  const ca = await startFakeAcmeCa({
    issue: (csr) => {
      const chain = signedRequest(csr, [name], 60);
      // The disk fills as the certificate comes: the account key is stored, the certificate not.
      if (issued === undefined) fillUp(disk);
      issued ??= chain;
      return chain;
    },
  });
  t.after(() => ca.close());
  const store = join(disk, 'acme');
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
  storage: ${store}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`);
  t.after(() => gw.close());
  const status = () => (gw.gateway.status().certificates ?? [])[0];

  await waitUntil('the storing failed', () => status()?.failures === 1, 30_000);
  assert.equal(status()?.last_error?.type, 'candor:internal');
  assert.match(
    status()?.last_error?.detail ?? '',
    /^this gateway failed the order: the CA issued the certificate, but acme\.storage could not keep it \(ENOSPC: .+\); it is held in memory and stored at the next try, not ordered again$/,
  );
  assert.equal(existsSync(join(store, 'certificates', name, 'chain.pem')), false);
  assert.equal(ca.downloads(), 1);

  // Room again: the next try (a minute after the failure) stores the one the CA issued.
  freeUp(disk);
  await waitUntil('the certificate stored', () => status()?.state === 'valid', 90_000);
  assert.equal(ca.downloads(), 1, 'no second order');
  assert.equal(gw.logs.filter((l) => l.msg === 'certificate issued').length, 1);
  assert.equal(readFileSync(join(store, 'certificates', name, 'chain.pem'), 'utf8'), issued);
  assert.equal(await servedFingerprint(tlsPort, name), new X509Certificate(issued ?? '').fingerprint256);
});
