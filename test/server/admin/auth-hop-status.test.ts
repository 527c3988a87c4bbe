/**
 * Each auth hop's health on GET /status and the status page, as an upstream's is (issue 34): a
 * real `candor serve` whose forward-auth service starts resetting opens that hop's circuit, and a
 * JWKS endpoint that refuses fails its fetch; /status says, for each hop, the circuit (the
 * forward hop's upstream's; none for a JWKS endpoint), its counts and its latest failure, and the
 * page (in a real Chromium) shows the same row.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'auth-hop-status-token-0123456789ab';

interface HopStatus {
  kind: string;
  upstream: string | null;
  circuit: { state: string; open_until: string | null } | null;
  counts: { allowed: number; denied: number; fetched: number; failed: number };
  last_failure: { type: string; details: string; at: string } | null;
}

test('GET /status and the status page show each auth hop: its circuit, its counts, its latest failure', {
  timeout: 90_000,
}, async () => {
  const dir = tempDir('candor-auth-hops-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const auth = await startSwitchable();
  const jwks = await startRefusing();
  const app = await startEcho();
  const adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: auth-hops
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - name: app
    match: { path: /app }
    upstream: app
    auth:
      forward: { upstream: authsvc, path: /verify }
  - name: api
    match: { path: /api }
    upstream: app
    auth:
      jwt: { jwks_url: "http://127.0.0.1:${jwks.port}/jwks" }
upstreams:
  app:
    targets:
      - url: ${app.url}
  authsvc:
    targets:
      - url: ${auth.url}
    outlier_detection: { consecutive_failures: 0 }
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 2, open_time: 60s }
`,
  );
  let serve: ServeProcess | undefined;
  try {
    serve = await startServe(path, 1, { admin: true });
    const base = `http://127.0.0.1:${serve.port}`;
    assert.equal((await request(base, { path: '/app' })).status, 200);
    auth.setMode('reset');
    assert.equal((await request(base, { path: '/app' })).status, 502);
    assert.equal((await request(base, { path: '/app' })).status, 502);
    assert.equal((await request(base, { path: '/app' })).status, 503);
    // A token a key might make good (good till 2100), so its keys are fetched.
    const token = ['{"alg":"RS256","kid":"k1"}', '{"sub":"x","exp":4102444800}']
      .map((part) => Buffer.from(part).toString('base64url'))
      .join('.');
    const bearer = { authorization: `Bearer ${token}.c2ln` };
    assert.equal((await request(base, { path: '/api', headers: bearer })).status, 502);

    const answer = await adminCall(adminPort, 'GET', '/status', { token: TOKEN });
    assert.equal(answer.status, 200);
    const hops = answer.body.auth_hops as Record<string, HopStatus>;
    assert.deepEqual(Object.keys(hops).sort(), ['auth:127.0.0.1:' + jwks.port, 'auth:authsvc'].sort());
    const forward = hops['auth:authsvc'];
    assert.equal(forward.kind, 'forward');
    assert.equal(forward.upstream, 'authsvc');
    assert.equal(forward.circuit?.state, 'open');
    assert.ok(forward.circuit?.open_until !== null);
    assert.deepEqual(forward.counts, { allowed: 1, denied: 0, fetched: 0, failed: 3 });
    // The failure that opened the circuit (the service's resets), not the open circuit's refusal
    // of the third request (counted in `failed`): that said only "the circuit … is open".
    assert.equal(forward.last_failure?.type, 'connection_terminated');
    assert.match(String(forward.last_failure?.details), /^the auth service: /);
    assert.doesNotMatch(String(forward.last_failure?.details), /circuit/);
    const keys = hops[`auth:127.0.0.1:${jwks.port}`];
    assert.equal(keys.kind, 'jwks');
    assert.equal(keys.upstream, null);
    assert.equal(keys.circuit, null);
    assert.deepEqual(keys.counts, { allowed: 0, denied: 0, fetched: 0, failed: 1 });
    assert.equal(keys.last_failure?.type, 'connection_refused');

    if (noChromium) return;
    const browser = await launchChromium(join(dir, 'chromium-profile'));
    try {
      const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
      const row = page.locator('tr[data-auth-hop="auth:authsvc"]');
      await row.waitFor({ state: 'visible' });
      assert.equal(await row.locator('td.circuit .badge').textContent(), 'open');
      assert.equal(await row.locator('td.failed').textContent(), '3');
      assert.equal(await row.locator('td.allowed').textContent(), '1');
      assert.match((await row.locator('td.last-failure').textContent()) ?? '', /^connection_terminated at /);
      const jwksRow = page.locator(`tr[data-auth-hop="auth:127.0.0.1:${jwks.port}"]`);
      assert.match((await jwksRow.locator('td.last-failure').textContent()) ?? '', /^connection_refused at /);
      assert.deepEqual(pageErrors, [], 'no script error on the page');
    } finally {
      await browser.close();
    }
  } finally {
    await serve?.stop();
    await auth.close();
    await app.close();
    await jwks.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
