/**
 * acme.renew_before against what the CA issues, with Debian's pebble (5-year certificates): one
 * not shorter than the lifetime makes each new certificate due at once, renewed every hour.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startPebble } from '../../helpers/pebble.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('a renew_before not shorter than the lifetime is told at warn, with both, when the certificate lands', {
  timeout: 90_000,
}, async () => {
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const pebble = await startPebble({ httpPort, tlsPort });
  const dir = tempDir('candor-acme-renew-');
  const gw = await startGatewayFromText(`listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [hourly.shop.test] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  challenges: [http-01]
  renew_before: 80000h
  storage: ${join(dir, 'acme')}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`);
  try {
    await waitUntil('issued', () => gw.logs.some((l) => l.msg === 'certificate issued'), 60_000);
    const [cert] = gw.gateway.status().certificates ?? [];
    const next = Date.parse(cert.next_renewal ?? '') - Date.now();
    assert.ok(next > 3_500_000 && next <= 3_600_000, `renewed again in an hour (${next} ms)`);
    // Before, nothing said so: a new certificate every hour, until the CA's rate limit.
    const line = gw.logs.find((l) => l.msg.startsWith('acme.renew_before is not shorter'));
    assert.equal(line?.level, 'warn');
    assert.equal(line?.acme, 'hourly.shop.test');
    assert.equal(line?.renew_before_s, 80_000 * 3600);
    const issued = new X509Certificate(
      readFileSync(join(dir, 'acme/certificates/hourly.shop.test/chain.pem')),
    );
    assert.equal(line?.lifetime_s, (Date.parse(issued.validTo) - Date.parse(issued.validFrom)) / 1000);
  } finally {
    await gw.close();
    await pebble.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
