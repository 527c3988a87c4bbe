/**
 * `candor reload` when the gateway took the file but no worker was alive to swap (each waiting
 * out its crash backoff, the replacement to start on the new config): the admin API answers 200
 * `ok` with no worker confirmed, and the command printed "workers  swapped", an empty list.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

test('a reload no worker was alive to swap says so, not "workers  swapped"', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-reload-no-worker-'));
  const path = join(dir, 'candor.yaml');
  const admin = await listenOnLoopback((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        result: 'ok',
        file: path,
        config_hash: 'sha256:abc',
        workers: { confirmed: [], failed: [] },
      }),
    );
  });
  try {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${'t'.repeat(32)}\n`, { mode: 0o600 });
    writeFileSync(
      path,
      `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:${new URL(admin.url).port}", token_file: ${tokenFile} }\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n`,
    );
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'reload', '--config', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.on('close', (exit) => resolve({ code: exit, stdout: out }));
    });
    assert.equal(code, 0);
    assert.equal(
      stdout,
      `reloaded ${path}: config sha256:abc, no worker running (each starts on this config)\n`,
    );
  } finally {
    await admin.close();
  }
});
