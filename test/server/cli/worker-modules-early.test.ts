/**
 * A worker loads every module it needs once it serves (its fault handling, worker-faults.ts; the
 * idle trim) before its gateway starts, so before any listener opens: loaded after, under an
 * open-file limit (ulimit -n) the listeners used up, the import failed EMFILE and the worker ended
 * with a raw stack. What each process resolves, in order, is recorded by record-imports.mjs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const HOOK = join(import.meta.dirname, '../../helpers/record-imports.mjs');

test('a worker loads its fault handling and idle trim before its gateway starts (before listening), not after', async () => {
  const dir = tempDir('candor-worker-early-');
  const config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `listen:
  - address: 127.0.0.1:${await freePort()}
routes:
  - upstream: app
upstreams:
  app:
    targets: [ { url: "http://127.0.0.1:9" } ]
log:
  destination: ${join(dir, 'candor.log')}
`,
  );
  const imports = join(dir, 'imports.log');
  const child = killAtExit(
    spawn(process.execPath, ['--import', HOOK, BIN, 'serve', '--workers', '1', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CANDOR_TEST_IMPORTS: imports },
    }),
  );
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes(' started: pid ')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  } finally {
    child.kill('SIGKILL');
  }
  const byPid = new Map<string, string[]>();
  for (const line of readFileSync(imports, 'utf8').trim().split('\n')) {
    const [pid, url] = line.split(' ');
    byPid.set(pid, [...(byPid.get(pid) ?? []), url]);
  }
  const worker = [...byPid.values()].find((urls) =>
    urls.some((url) => url.endsWith('/src/server/gateway/gateway.ts')),
  );
  assert.ok(worker !== undefined, 'the worker recorded its imports');
  const at = (suffix: string) => worker.findIndex((url) => url.endsWith(suffix));
  // Resolved once the primary's snapshot came, just before the gateway starts (serve.ts).
  const starting = at('/src/observe/metrics/cluster.ts');
  assert.ok(starting > 0, 'the worker started its gateway');
  for (const module of ['/src/server/cli/worker-faults.ts', '/src/server/gateway/idle-trim.ts']) {
    assert.ok(at(module) >= 0, `${module} loaded`);
    assert.ok(at(module) < starting, `${module} loaded before the gateway starts`);
  }
});
