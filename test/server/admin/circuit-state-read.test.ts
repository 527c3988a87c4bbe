/**
 * A circuit's state is the state at the moment it is read (issue 32, item 2): a real
 * `candor serve` whose upstream resets every connection opens its circuit, then nothing more
 * is sent; once `open_time` has passed, GET /status, GET /metrics and the status page (in a
 * real Chromium) all say half-open, and reading them sent nothing to the upstream. Before,
 * the circuit said "open" (and `candor_circuit_state{state="open"}` stayed 1) until another
 * request came, so an alert on an idle upstream fired for ever.
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
import { samples, sampleValue, scrape } from '../../observe/metrics/scrape.ts';

const TOKEN = 'circuit-read-token-0123456789abcdef';

test('past open_time with no request since, /status, /metrics and the status page say half-open', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const dir = tempDir('candor-circuit-read-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const upstream: SwitchableUpstream = await startSwitchable();
  upstream.setMode('reset');
  const [adminPort, metricsPort] = [await freePort(), await freePort()];
  const path = join(dir, 'candor.yaml');
  // The open time is long enough for the reads while open on a loaded machine, short enough to wait out.
  writeFileSync(
    path,
    `name: circuit-read
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
metrics:
  listen: 127.0.0.1:${metricsPort}
routes:
  - upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 2, open_time: 3s, half_open_requests: 1 }
`,
  );
  const status = async () => {
    const answer = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
    assert.equal(answer.status, 200);
    return (
      answer.body.upstreams as Record<string, { circuit: { state: string; open_until: string | null } }>
    ).app.circuit;
  };
  const metric = async (state: string) =>
    sampleValue(samples((await scrape(metricsPort)).text), 'candor_circuit_state', {
      upstream: 'app',
      target: '',
      state,
    });
  let serve: ServeProcess | undefined;
  const browser = await launchChromium(join(dir, 'chromium-profile'));
  try {
    serve = await startServe(path, 1, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    // Two resets in a row open the circuit; the third request is failed fast without trying.
    assert.equal((await request(base, { path: '/a' })).status, 502);
    assert.equal((await request(base, { path: '/b' })).status, 502);
    const fast = await request(base, { path: '/c' });
    assert.equal(fast.status, 503);
    assert.match(String(fast.headers['proxy-status']), /error=destination_unavailable/);
    const tried = upstream.accepted.reset.length;
    assert.equal(tried, 2);

    const open = await status();
    assert.equal(open.state, 'open');
    assert.ok(open.open_until !== null, 'an open circuit says until when');
    assert.equal(await metric('open'), 1);
    const openUntil = Date.parse(open.open_until);

    // Nothing is sent through the gateway from here on: only reads.
    while (Date.now() < openUntil + 300) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(await status(), { state: 'half_open', open_until: null });
    assert.equal(await metric('open'), 0, 'an alert on state="open" stops firing once open_time has passed');
    assert.equal(await metric('half_open'), 1);
    assert.equal(await metric('closed'), 0);

    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    const head = page.locator('div.upstream[data-upstream="app"] h3');
    assert.equal(await head.locator('.badge').first().textContent(), 'half_open');
    assert.doesNotMatch((await head.textContent()) ?? '', /open until/);

    assert.equal(upstream.accepted.reset.length, tried, 'reading the state sent no probe to the upstream');
    assert.deepEqual(pageErrors, [], 'no script error on the page');
  } finally {
    await browser.close();
    await serve?.stop();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
