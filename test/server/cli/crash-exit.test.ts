/**
 * A one-shot command that crashes (an exception nothing caught) exits 70 with what was thrown,
 * not Node's default 1: `candor diagnose` gives 1 for a target's own 5xx, so a readiness script
 * read a crash as the upstream failing. The crash here is a throw a config's plugin module left
 * in a timer at its top level, which fires while diagnose waits on a target that takes the
 * request and never answers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');

test('a crash in a one-shot command exits 70 naming it, never the 1 diagnose gives a 5xx', async () => {
  const dir = tempDir('candor-crash-exit-');
  const held: Socket[] = [];
  const silent = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    writeFileSync(
      join(dir, 'stray.mjs'),
      "setTimeout(() => { throw new Error('stray timer of a plugin module'); }, 200);\nexport default () => ({});\n",
    );
    writeFileSync(
      join(dir, 'candor.yaml'),
      `name: crash
listen:
  - address: 127.0.0.1:0
plugins:
  stray: { module: ./stray.mjs }
routes:
  - upstream: app
    plugins: [stray]
upstreams:
  app:
    targets: [ { url: "http://127.0.0.1:${port}" } ]
    timeouts: { response: 20s }
`,
    );
    const child = spawn(process.execPath, [BIN, 'diagnose', '--config', join(dir, 'candor.yaml'), 'app'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 70, stderr);
    assert.match(
      stderr,
      /^candor diagnose: internal error \(exit 70\): Error: stray timer of a plugin module/m,
    );
  } finally {
    for (const socket of held) socket.destroy();
    silent.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
