/**
 * `candor reload` when the gateway took the file but no worker was alive to swap (each waiting
 * out its crash backoff, the replacement to start on the new config): the admin API answers 200
 * `ok` with no worker confirmed, and the command printed "workers  swapped", an empty list. And
 * when every worker failed to swap (the primary went back, `reverted`): it said "incomplete … no
 * worker swapped", as if a swap were left half done.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** `candor reload` against an admin API that answers `status` and `answer` (as JSON): its exit code and output. */
async function reloadAgainst(
  status: number,
  answer: (path: string) => unknown,
): Promise<{ code: number | null; stdout: string; stderr: string; path: string }> {
  const dir = tempDir('candor-reload-answers-');
  const path = join(dir, 'candor.yaml');
  const admin = await listenOnLoopback((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer(path)));
  });
  try {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${'t'.repeat(32)}\n`, { mode: 0o600 });
    writeFileSync(
      path,
      `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:${new URL(admin.url).port}", token_file: ${tokenFile} }\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n`,
    );
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'reload', '--config', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (err += c));
      child.on('close', (exit) => resolve({ code: exit, stdout: out, stderr: err }));
    });
    return { ...run, path };
  } finally {
    await admin.close();
  }
}

test('a reload no worker was alive to swap says so, not "workers  swapped"', async () => {
  const { code, stdout, path } = await reloadAgainst(200, (path) => ({
    result: 'ok',
    file: path,
    config_hash: 'sha256:abc',
    workers: { confirmed: [], failed: [] },
  }));
  assert.equal(code, 0);
  assert.equal(
    stdout,
    `reloaded ${path}: config sha256:abc, no worker running (each starts on this config)\n`,
  );
});

test('a reload every worker failed to swap to is said refused, nothing changed, not "incomplete"', async () => {
  const { code, stderr, path } = await reloadAgainst(503, (path) => ({
    title: 'Reload refused by the workers',
    reload: {
      result: 'incomplete',
      file: path,
      config_hash: 'sha256:old',
      workers: {
        confirmed: [],
        failed: [{ id: 1, reason: "ENOENT: no such file or directory, open 'ca.pem'" }],
      },
      reverted: true,
    },
  }));
  assert.equal(code, 69);
  assert.equal(
    stderr,
    `candor: reload of ${path} refused by every worker (worker 1: ENOENT: no such file or directory, open 'ca.pem'): nothing changed, the running config stays\n`,
  );
});
