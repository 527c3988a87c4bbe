/**
 * A changed `acme.email` reaches the CA (Debian's pebble): the account of the stored key is
 * found again, not made anew, and a found account comes with the contact the CA holds, the new
 * one it was sent ignored (RFC 8555 §7.3.1). Its contact is brought to the config's with a POST
 * to the account's URL (§7.3.2), when the manager starts (a reload that changed `acme` starts
 * one), not at the next order weeks away.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { AcmeClient } from '../../../src/server/acme/acme-client.ts';
import { startPebble } from '../../helpers/pebble.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

test('a reload that changes acme.email brings the CA account’s contact to it', {
  timeout: 120_000,
}, async () => {
  const [httpPort, tlsPort] = await Promise.all([freePort(), freePort()]);
  const pebble = await startPebble({ httpPort, tlsPort });
  const dir = tempDir('candor-acme-contact-');
  const storage = join(dir, 'acme');
  const text = (email: string) => `name: front-door
listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [mail.shop.test] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  email: ${email}
  challenges: [http-01]
  storage: ${storage}
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:1" }]
`;
  const gw = await startGatewayFromText(text('ops@shop.test'));
  try {
    // The first order makes the account, with the first email.
    await waitUntil(
      'the certificate ordered',
      () => gw.logs.some((l) => l.msg === 'certificate issued'),
      60_000,
    );
    await gw.gateway.reload(parseConfig(text('certs@shop.test'), '<test>', {}));
    await waitUntil(
      'the contact updated',
      () => gw.logs.some((l) => l.msg === 'ACME account contact updated'),
      20_000,
    );
    const line = gw.logs.find((l) => l.msg === 'ACME account contact updated');
    assert.deepEqual(line?.was, ['mailto:ops@shop.test']);
    assert.deepEqual(line?.contact, ['mailto:certs@shop.test']);
    assert.equal(
      gw.logs.filter((l) => l.msg === 'certificate issued').length,
      1,
      'the reload ordered nothing',
    );
    // What the CA holds now, read as a found account's: the new email (brought back to the old one).
    const [keyFile] = readdirSync(join(storage, 'accounts')).filter((f) => f.endsWith('.key'));
    const key = createPrivateKey(readFileSync(join(storage, 'accounts', keyFile), 'utf8'));
    const held = await new AcmeClient(pebble.directory, key, { ca: pebble.ca, timeoutMs: 10_000 }).account(
      'ops@shop.test',
    );
    assert.equal(held.url, line?.acme_account);
    assert.deepEqual(held.replaced, ['mailto:certs@shop.test']);
  } finally {
    await gw.close();
    await pebble.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
