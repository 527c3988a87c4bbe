/**
 * A fleet gateway's status page, in a real browser (Debian's Chromium, driven by playwright-core)
 * against a real `candor serve` on a real etcd: the config source line says the revision running
 * and who pushed it, the last revision refused with its position, and, etcd stopped, since when
 * it is unreachable; the fleet's list shows the gateway behind the revision it refused.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { startEtcd } from '../../helpers/etcd-server.ts';
import {
  candor,
  documentTo,
  FLEET_KEY,
  FLEET_TOKEN,
  fleetBootstrap,
  serveGateway,
} from '../../helpers/fleet-gateways.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const DOCUMENT = documentTo('http://127.0.0.1:1');

test("the status page's config source: revision and author, a refusal at its position, etcd unreachable since when", {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-fleet-page-');
  const etcd = await startEtcd();
  const gateway = await fleetBootstrap(dir, 'page-1', [etcd.endpoint]);
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 1000 });
  try {
    const file = join(dir, 'doc.yaml');
    writeFileSync(file, DOCUMENT);
    const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap, '--author', 'alice']);
    assert.equal(pushed.code, 0, pushed.stderr);
    const revision = Number(/pushed as revision (\d+)/.exec(pushed.stdout)?.[1]);
    await serveGateway(gateway);
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`http://127.0.0.1:${gateway.adminPort}/`);
    await page.locator('#auth').waitFor({ state: 'visible' });
    await page.fill('#token', FLEET_TOKEN);
    await page.click('#token-submit');
    await page.locator('#data').waitFor({ state: 'visible' });
    const source = page.locator('#config-source');
    const said = () => source.textContent().then((t) => t ?? '');
    const until = async (what: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!what.test(await said()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.match(await said(), what);
    };
    await until(
      new RegExp(
        `^reachable etcd ${FLEET_KEY}: etcd reachable, running revision ${revision} \\(pushed by alice\\)$`,
      ),
    );
    const bad = await new EtcdClient({ endpoints: [etcd.endpoint] }).put(
      FLEET_KEY,
      DOCUMENT.replace('/', 'no-slash'),
    );
    await until(
      new RegExp(
        `; refused revision ${bad} at .*: etcd:${FLEET_KEY}@${bad}:3:20  routes\\[0\\]\\.match\\.path: `,
      ),
    );
    // The fleet's list: this gateway, behind the revision it refused.
    const row = page.locator('#fleet tr[data-gateway="page-1"]');
    const fleetText = async () => (await page.locator('#fleet-section').textContent()) ?? '';
    const fleetWanted = new RegExp(`${FLEET_KEY}: latest revision ${bad}, 1 live gateway\\(s\\), 1 behind`);
    // The key's new revision and the gateway's record of its refusal are two writes to etcd:
    // the list may show the first a look before the second.
    const refusedText = async () => (await row.locator('td.refused').textContent()) ?? '';
    const refusedWanted = new RegExp(`^revision ${bad}: etcd:${FLEET_KEY}@${bad}:3:20 `);
    const deadline = Date.now() + 15_000;
    while (
      !(fleetWanted.test(await fleetText()) && refusedWanted.test(await refusedText())) &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 100));
    assert.match(await fleetText(), fleetWanted);
    assert.equal(await row.locator('td.revision').textContent(), `BEHIND: ${revision}`);
    assert.match(await refusedText(), refusedWanted);
    await etcd.kill();
    await until(
      new RegExp(
        `^unreachable etcd ${FLEET_KEY}: source unreachable since .*, running revision ${revision} \\(pushed by alice\\)`,
      ),
    );
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await gateway.serve?.stop();
    await etcd.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
