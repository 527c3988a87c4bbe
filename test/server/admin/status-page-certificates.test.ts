/**
 * The status page's certificate panel in a real browser (Debian's Chromium through
 * playwright-core) against a real `candor serve` whose CA (Debian's pebble) cannot validate:
 * the stored certificate that has ended shows red as "expired", with the CA's own error and how
 * many orders failed in a row. A gateway that orders nothing shows no panel.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { expiredCertificateFor } from '../../helpers/named-certs.ts';
import { startPebble } from '../../helpers/pebble.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'status-page-token-0123456789abcdef';

test("the certificate panel: an expired certificate whose renewal the CA refuses, in red, with the CA's error", {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-page-certs-');
  const [httpPort, tlsPort, adminPort, nowhere] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  // The CA's validations go to a port nobody listens on: every order fails with "connection".
  const pebble = await startPebble({ httpPort: nowhere, tlsPort: nowhere });
  const store = join(dir, 'acme');
  const expired = expiredCertificateFor(['old.page.test']);
  mkdirSync(join(store, 'certificates/old.page.test'), { recursive: true });
  copyFileSync(expired.certPath, join(store, 'certificates/old.page.test/chain.pem'));
  copyFileSync(expired.keyPath, join(store, 'certificates/old.page.test/key.pem'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const file = join(dir, 'candor.yaml');
  writeFileSync(
    file,
    `name: page-edge
listen:
  - address: 127.0.0.1:${httpPort}
  - address: 127.0.0.1:${tlsPort}
    tls:
      acme: { names: [old.page.test] }
acme:
  directory: ${pebble.directory}
  ca: ${pebble.caPath}
  challenges: [http-01]
  storage: ${store}
admin: { listen: "127.0.0.1:${adminPort}", token_file: token }
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`,
  );
  const serve = await startServe(file, 1, { admin: true });
  const browser = await launchChromium(join(dir, 'profile'));
  try {
    await serve.waitForLines('certificate renewal failed', 1, 60_000);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    await page.goto(`http://127.0.0.1:${adminPort}/`);
    await page.fill('#token', TOKEN);
    await page.click('#token-submit');
    const row = page.locator('#certificates tr[data-certificate="old.page.test"]');
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.locator('td.state .badge').textContent(), 'expired');
    assert.match((await row.locator('td.state .badge').getAttribute('class')) ?? '', /\bopen\b/, 'shown red');
    assert.match(
      (await row.locator('td.last-error').textContent()) ?? '',
      /^urn:ietf:params:acme:error:connection: old\.page\.test \(http-01\): .+ \(1 in a row\)$/,
    );
    assert.match((await row.locator('td.not-after').textContent()) ?? '', /2020/);
  } finally {
    await browser.close();
    await serve.stop();
    await pebble.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
