/**
 * A reload every worker of a `candor serve` refuses late (the upstream's TLS CA, there when the
 * primary read the file, gone when the worker builds its runtime: the new config's plugin factory,
 * run in the worker between the two, removes it): the workers serve the config before whole. The
 * listener the refused file adds is not left open in them, the plugin instance made for it is
 * closed (its close hook writes a file), and /status says the config that serves.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'reload-late-refusal-token-0123456789';

test('a reload every worker refuses late leaves them on the config before, nothing of the new one open', async () => {
  const dir = tempDir('candor-reload-late-workers-');
  const app = await startEcho();
  const ca = join(dir, 'ca.pem');
  const closedMarker = join(dir, 'closed');
  writeFileSync(
    join(dir, 'takes.mjs'),
    `import { rmSync, writeFileSync } from 'node:fs';
export default (options) => {
  rmSync(options.path, { force: true });
  return { close() { writeFileSync(${JSON.stringify(closedMarker)}, 'closed'); } };
};
`,
  );
  const admin = await freePort();
  const added = await freePort();
  const config = join(dir, 'candor.yaml');
  const head = `admin: { listen: "127.0.0.1:${admin}", token_env: RELOAD_TOKEN }\n`;
  const upstreams = `upstreams:\n  app: { targets: [{ url: "${app.url}" }] }\n`;
  writeFileSync(
    config,
    `listen:\n  - address: 127.0.0.1:0\n${head}routes:\n  - { name: all, match: { path: / }, upstream: app }\n${upstreams}`,
  );
  const serve = await startServe(config, 1, { admin: true, env: { RELOAD_TOKEN: TOKEN } });
  try {
    // The config the primary says runs, and the one the worker says it runs.
    const hashes = async () => {
      const { body } = await adminCall(admin, 'GET', '/status', { token: TOKEN });
      return [
        (body.config as { hash: string }).hash,
        (body.workers as { config_hash: string }[])[0].config_hash,
      ];
    };
    const [hash] = await hashes();
    assert.deepEqual(await hashes(), [hash, hash]);
    assert.equal((await request(`http://127.0.0.1:${serve.port}`)).status, 200);
    copyFileSync(testCertificates().caPath, ca);
    writeFileSync(
      config,
      `listen:\n  - address: 127.0.0.1:0\n  - address: 127.0.0.1:${added}\n${head}` +
        `plugins:\n  takes: { module: ./takes.mjs, options: { path: ${ca} } }\n` +
        `routes:\n  - { name: all, match: { path: / }, upstream: app, plugins: [takes] }\n${upstreams}` +
        `  secure:\n    targets: [{ url: "${app.url}" }]\n    tls: { ca: ${ca} }\n`,
    );
    const reload = await adminCall(admin, 'POST', '/reload', { token: TOKEN });
    assert.equal((reload.body.reload as Record<string, unknown>).result, 'incomplete', reload.text);
    assert.equal((reload.body.reload as Record<string, unknown>).config_hash, hash, reload.text);
    assert.equal(reload.status, 503);
    assert.match(reload.text, /ENOENT.*ca\.pem/);
    assert.equal((reload.body.reload as Record<string, unknown>).reverted, true);
    assert.equal(reload.body.title, 'Reload refused by the workers');
    await serve.waitForLines('reload refused: every worker failed to swap, the running config stays', 1);

    assert.equal((await request(`http://127.0.0.1:${serve.port}`)).status, 200);
    assert.deepEqual(await hashes(), [hash, hash]);
    await assert.rejects(
      request(`http://127.0.0.1:${added}`),
      /ECONNREFUSED/,
      'the refused listener is not open',
    );
    for (const deadline = Date.now() + 5000; !existsSync(closedMarker); ) {
      assert.ok(Date.now() < deadline, 'the plugin made for the refused config is closed');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await serve.stop();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
