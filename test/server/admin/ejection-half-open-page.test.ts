/**
 * A target whose passive ejection ran out, with no request since, is half-open until its next
 * request ends it: the status page says so in its row (its `ejected` cell), as `/status`'s
 * target `circuit` and `candor_circuit_state` do; before, the cell said "no" while the gauge
 * said half_open. A real `candor serve` whose only target resets every connection, read in a
 * real Chromium.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type SwitchableUpstream, startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'ejection-page-token-0123456789abcdef';

test('an ejection run out, no request since: the page shows the target half-open', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-ejection-page-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const upstream: SwitchableUpstream = await startSwitchable();
  upstream.setMode('reset');
  const adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: ejection-page
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 2s, max_ejected_percent: 100 }
`,
  );
  type Target = { ejected: boolean; ejected_until: string | null; circuit: { state: string } };
  const target = async () => {
    const answer = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
    assert.equal(answer.status, 200);
    return (answer.body.upstreams as Record<string, { targets: Target[] }>).app.targets[0];
  };
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'));
  try {
    serve = await startServe(path, 1, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    assert.equal((await request(base, { path: '/a' })).status, 502);
    assert.equal((await request(base, { path: '/b' })).status, 502);
    const ejected = await target();
    assert.equal(ejected.ejected, true);
    assert.equal(ejected.circuit.state, 'open');
    const until = Date.parse(String(ejected.ejected_until));
    while (Date.now() < until + 300) await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await target();
    assert.equal(after.ejected, false);
    assert.equal(after.circuit.state, 'half_open');

    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    const cell = page.locator(`tr[data-target^="${upstream.url}"] td.ejected`);
    assert.equal(await cell.locator('.badge').textContent(), 'half_open');
    assert.match((await cell.textContent()) ?? '', /until its next request passes$/);
    assert.deepEqual(pageErrors, [], 'no script error on the page');
  } finally {
    await browser.close();
    await serve?.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
