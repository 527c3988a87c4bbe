/**
 * The status page of an upstream found by DNS, in a real browser (Debian's Chromium, driven by
 * playwright-core) against a real `candor serve` asking the test's scripted DNS server: a name
 * that has never resolved is an upstream with no target at all (every request its DNS failure),
 * not one whose "last good set" is kept, as the page said; once an answer came, a failure keeps
 * that set and the page says so.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { startDnsServer } from '../../helpers/dns-server.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { freePort } from '../../helpers/wait.ts';
import { gatewayDir, TOKEN } from './page-gateway-fixture.ts';

test('a DNS name never answered: no target, the page says so (not "last good set kept"); after an answer, a failure keeps it', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const echo = await startEcho();
  const echoPort = Number(new URL(echo.url).port);
  const dns = await startDnsServer();
  dns.set('app.test', 'nxdomain');
  const adminPort = await freePort();
  const { dir, path } = gatewayDir(adminPort, echo.url);
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${join(dir, 'token')} }
routes:
  - { name: app, match: { path: / }, upstream: app }
upstreams:
  app:
    discovery: { dns: app.test, port: ${echoPort}, resolvers: [${dns.address}], interval: 200ms, min_ttl: 200ms }
`,
  );
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 900 });
  try {
    serve = await startServe(path, 1, { admin: true });
    await serve.waitForLines('discovery failed: the last good targets are kept', 1);
    const refused = await request(`http://127.0.0.1:${serve.port}`);
    assert.equal(refused.status, 502);
    assert.match(String(refused.headers['proxy-status']), /dns_error; rcode="NXDOMAIN"/);
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    const items = page.locator('#attention li', { hasText: 'upstream app' });
    await items.first().waitFor();
    assert.deepEqual(await items.allTextContents(), [
      'upstream app: DNS failing (ENOTFOUND), no target found yet: every request gets its failure',
    ]);
    const facts = page.locator('h3', { hasText: 'app' }).locator('.facts');
    assert.match(
      (await facts.textContent()) ?? '',
      /DNS A app\.test: 0 targets, no answer yet · question failed \(ENOTFOUND\): no target found yet$/,
    );

    // An answer, then a failure: the set it found is kept, as the page says.
    dns.set('app.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
    await serve.waitForLines('discovered targets changed', 1);
    dns.set('app.test', 'servfail');
    await page.locator('#attention li', { hasText: 'ESERVFAIL' }).waitFor();
    assert.deepEqual(await items.allTextContents(), [
      'upstream app: DNS failing (ESERVFAIL), last good set kept',
    ]);
    assert.match(
      (await facts.textContent()) ?? '',
      /last question failed \(ESERVFAIL\): last good set kept$/,
    );
    assert.equal((await request(`http://127.0.0.1:${serve.port}`)).status, 200);
    const status = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body as {
      upstreams: Record<string, { discovery: { failure: string; targets: unknown[] } }>;
    };
    assert.equal(status.upstreams.app.discovery.failure, 'ESERVFAIL');
    assert.equal(status.upstreams.app.discovery.targets.length, 1);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await serve?.stop();
    await echo.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
