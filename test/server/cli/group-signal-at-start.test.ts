/**
 * Ctrl-C pressed while `candor serve` is still starting its workers reaches the whole process
 * group: the primary drains, and a worker still loading Node (no handler of its own yet) ends by
 * the signal's default action. That worker never served and held nothing to cut: the stop is as
 * clean as any (exit 0), never the exit 1 and the "worker did not end its drain cleanly" line of
 * a worker whose requests were cut, nor a worker replaced as if it had crashed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const WORKERS = 2;

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  test(`${signal} to the process group while the workers load: exit 0, no worker replaced or called unclean`, async () => {
    const dir = tempDir('candor-group-signal-');
    const held = join(dir, 'held');
    mkdirSync(held);
    const path = join(dir, 'candor.yaml');
    writeFileSync(
      path,
      'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: http://127.0.0.1:9\n',
    );
    // The first workers stop before any of Candor's code runs (as a loaded machine's do, for a
    // second), saying so by a file: the group's signal then meets them with Node's default
    // action. Their replacements, if any, start as usual.
    const preload = join(dir, 'hold-first-workers.mjs');
    writeFileSync(
      preload,
      [
        "import cluster from 'node:cluster';",
        "import { writeFileSync } from 'node:fs';",
        'const id = cluster.worker?.id ?? 0;',
        `if (id >= 1 && id <= ${WORKERS}) {`,
        `  writeFileSync(${JSON.stringify(held)} + '/' + id, String(process.pid));`,
        '  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30_000);',
        '}',
        '',
      ].join('\n'),
    );
    const child = killAtExit(
      spawn(process.execPath, [BIN, 'serve', '--workers', String(WORKERS), '--config', path], {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: { ...process.env, NODE_OPTIONS: `--import=${preload}` },
      }),
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const pid = child.pid as number;
    try {
      await waitUntil('every first worker held', () => readdirSync(held).length === WORKERS, 20_000);
      process.kill(-pid, signal);
      const code = await exited;
      assert.equal(code, 0, `stdout: ${out}\nstderr: ${err}`);
      assert.doesNotMatch(out, /did not end its drain cleanly/);
      assert.doesNotMatch(err, /starting another/);
    } finally {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
      await exited;
    }
  });
