/**
 * GET /config shows the running config with no secret in it (issue 12: "the running config
 * (secrets redacted)"): the rate-limit store's password, written in its URL, is masked, as
 * docs/configuration.md promises ("never logged nor shown").
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'admin-test-token-abcdefghijkl';
const PASSWORD = 's3cret-redis-passw0rd';

test("GET /config masks the store's password; its address stays readable", async () => {
  const dir = tempDir('candor-config-secrets-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const adminPort = await freePort();
  // Nothing listens on the store's port: the worker lets rate-limited requests through meanwhile.
  const storePort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
store:
  redis: { url: "redis://:${PASSWORD}@127.0.0.1:${storePort}/2" }
routes:
  - name: app
    match: { path: / }
    upstream: app
    rate_limit: { rate: 5, burst: 10 }
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
`,
  );
  const serve = await startServe(path, 1, { admin: true });
  try {
    const shown = await adminCall(adminPort, 'GET', '/config', { token: TOKEN });
    assert.equal(shown.status, 200);
    const text = JSON.stringify(shown.body);
    assert.ok(!text.includes(PASSWORD), text);
    const config = shown.body.config as { store: { redis: { url: string } } };
    assert.equal(config.store.redis.url, `redis://:***@127.0.0.1:${storePort}/2`);
    assert.ok(!JSON.stringify(serve.lines).includes(PASSWORD));
  } finally {
    await serve.stop();
  }
});
