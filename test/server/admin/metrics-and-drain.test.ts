/**
 * The pieces the cluster primary composes: GET /metrics on the admin API (behind its token,
 * every worker's counts merged), and readiness that turns to 503 the moment a drain begins
 * (both on the admin listener and under probes_path on the main listener).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';

const TOKEN = 'metrics-drain-token-abcdefgh';

function getText(port: number, path: string, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
  });
}

test('GET /metrics on the admin API needs the token and counts both workers; /ready turns 503 when SIGTERM begins the drain', async () => {
  const echo = await startEcho();
  const dir = mkdtempSync(join(tmpdir(), 'candor-md-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: md-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:0", token_file: ${tokenFile}, probes_path: /_candor }
drain: { delay: 1500ms, timeout: 5s }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
  );
  const serve = await startServe(path, 2, { admin: true });
  try {
    const admin = serve.adminPort as number;
    const base = `http://127.0.0.1:${serve.port}`;
    for (let i = 0; i < 10; i++) assert.equal((await request(base)).status, 200);
    assert.equal((await getText(admin, '/metrics')).status, 401);
    const scrape = await getText(admin, '/metrics', TOKEN);
    assert.equal(scrape.status, 200);
    const served = [...scrape.text.matchAll(/^candor_responses_total\{[^}]*code="200"[^}]*\} (\d+)$/gm)];
    assert.equal(
      served.reduce((sum, m) => sum + Number(m[1]), 0),
      10,
    );

    assert.equal((await adminCall(admin, 'GET', '/ready')).status, 200);
    assert.equal((await request(base, { path: '/_candor/ready' })).status, 200);
    serve.child.kill('SIGTERM');
    await serve.waitForLines('draining: not ready', 2);
    const ready = await adminCall(admin, 'GET', '/ready');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { status: 'draining' });
    // During drain.delay the main listener still serves, and says it is not ready.
    assert.equal((await request(base, { path: '/_candor/ready' })).status, 503);
    assert.equal((await request(base)).status, 200);
    assert.equal(await serve.stop(), 0);
  } finally {
    await serve.stop();
    await echo.close();
  }
});
