/**
 * What `candor serve` meets after its config parsed and validated, and refuses to start on: each
 * said as a config problem is, at the file, line, column and field that asked for it, and the
 * gateway exits non-zero. A plugin's factory runs in the worker only (never in `candor check`):
 * its refusal named `plugins.NAME.module` but no line, since the worker was sent the config
 * without where its fields are written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-start-refusals-');
after(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(join(dir, 'throws.mjs'), "export default () => {\n  throw new Error('no database');\n};\n");
writeFileSync(join(dir, 'answers42.mjs'), 'export default () => 42;\n');
writeFileSync(join(dir, 'not-a-hook.mjs'), "export default () => ({ onRequest: 'nope' });\n");

/** A config of one route running the plugin `bad` from `module`. */
function withPlugin(name: string, module: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
plugins:
  bad:
    module: ${module}
routes:
  - match: { path: / }
    upstream: app
    plugins: [bad]
upstreams:
  app: { targets: [{ url: http://127.0.0.1:9 }] }
`,
  );
  return path;
}

/** `candor serve` that should not start: its exit code and stderr, or a failure once it listens. */
function serveExpectingExit(
  path: string,
  workers = 1,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = killAtExit(
      spawn(process.execPath, [BIN, 'serve', '--workers', String(workers), '--config', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('"msg":"listening"')) {
        child.kill('SIGKILL');
        reject(new Error(`the gateway started: ${stdout}`));
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

for (const [module, why] of [
  ['./throws.mjs', /the plugin's factory threw: no database \(at .*throws\.mjs:2\)/],
  ['./answers42.mjs', /the plugin's factory returned 42, not an object of hooks/],
  ['./not-a-hook.mjs', /the plugin's hook onRequest is "nope", not a function/],
] as const)
  test(`a plugin whose factory fails (${module}) stops serve at plugins.bad.module's file, line and column`, async () => {
    const path = withPlugin(module.slice(2, -4), module);
    const { code, stderr } = await serveExpectingExit(path);
    assert.equal(code, 69, stderr);
    assert.ok(stderr.startsWith(`candor: could not start: ${path}:5:5  plugins.bad.module: `), stderr);
    assert.match(stderr, why);
  });

test('a metrics.listen another process holds stops serve at its file, line and field, exit 69', async () => {
  const holder = net.createServer();
  await new Promise<void>((listening) => holder.listen(0, '127.0.0.1', listening));
  const { port } = holder.address() as net.AddressInfo;
  try {
    const path = join(dir, 'metrics-taken.yaml');
    writeFileSync(
      path,
      `listen:
  - address: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:${port}
routes:
  - upstream: app
upstreams:
  app: { targets: [{ url: http://127.0.0.1:9 }] }
`,
    );
    const { code, stderr } = await serveExpectingExit(path);
    assert.equal(code, 69, stderr);
    assert.ok(
      stderr.startsWith(
        `candor: could not start: ${path}:4:3  metrics.listen: cannot listen on 127.0.0.1:${port}: address in use (EADDRINUSE)`,
      ),
      stderr,
    );
  } finally {
    holder.close();
  }
});

test('with two workers refused alike, the primary says the start failed, not that the other worker drained badly', async () => {
  const path = withPlugin('throws-two', './throws.mjs');
  const { code, stderr, stdout } = await serveExpectingExit(path, 2);
  assert.equal(code, 69, stderr);
  assert.match(stdout, /"msg":"a worker could not start: the gateway stops"/);
  assert.doesNotMatch(stdout, /did not end its drain cleanly/);
  // Said once for the gateway, not once per worker.
  assert.equal(
    stderr.split('\n').filter((line) => line.startsWith('candor: could not start: ')).length,
    1,
    stderr,
  );
});
