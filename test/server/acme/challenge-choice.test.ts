/**
 * Which challenge an order uses: HTTP-01 is answered on a plain listener only, so a gateway
 * with none (TLS on 443 alone, the usual front door behind a firewall that shuts port 80)
 * orders by TLS-ALPN-01 with the default `acme.challenges`, where it preferred HTTP-01, which
 * nothing of it answers, and failed every order. Debian's pebble validating for real, its
 * HTTP-01 port left with nothing listening; `candor diagnose --acme` probes no port 80 for it.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { diagnoseAcme } from '../../../src/server/acme/diagnose-acme.ts';
import { type Pebble, startPebble } from '../../helpers/pebble.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

let pebble: Pebble;
let httpPort = 0;
let tlsPort = 0;
const dir = tempDir('candor-acme-choice-');

before(async () => {
  [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  pebble = await startPebble({ httpPort, tlsPort });
});

after(async () => {
  await pebble?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a gateway with no plain listener orders by TLS-ALPN-01 with the default challenges, not by an HTTP-01 none answers', {
  timeout: 120_000,
}, async () => {
  const text = `listen:
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [only-tls.shop.test] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  storage: ${join(dir, 'acme')}
routes:
  - redirect: { location: "https://shop.test/" }
`;
  const gw = await startGatewayFromText(text);
  try {
    await waitUntil(
      'the order ended',
      () => {
        const [cert] = gw.gateway.status().certificates ?? [];
        return cert !== undefined && (cert.state === 'valid' || cert.failures > 0);
      },
      60_000,
    );
    const [cert] = gw.gateway.status().certificates ?? [];
    assert.equal(cert.state, 'valid', JSON.stringify(cert));
    assert.equal(cert.failures, 0);
    assert.equal(
      gw.logs.find((l) => l.msg === 'certificate order failed'),
      undefined,
    );
    // candor diagnose --acme checks what the orders use: no port 80 to probe.
    const diagnosis = await diagnoseAcme(parseConfig(text, '<test>', {}), 'only-tls.shop.test', {
      dnsServer: pebble.dns,
      httpPort,
    });
    assert.deepEqual(
      diagnosis.steps.map((step) => `${step.step} ${step.ok}`),
      ['config true', 'stored true', 'dns true', 'ca true', 'caa true'],
    );
    assert.match(diagnosis.steps[0].summary, / by tls-alpn-01$/);
  } finally {
    await gw.close();
  }
});
