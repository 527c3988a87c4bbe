/**
 * A reader that leaves before the report ends (`candor explain app.log | head`, a pager quit) is
 * no crash of the command: it ends with its own exit code and says nothing of an EPIPE. It
 * used to exit 70 with `internal error` and a stack, which a script reads as a bug in Candor.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';

const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin/candor.js');

/** Runs `candor ARGS` with its stdout a pipe whose reader has already left. */
async function withReaderGone(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CANDOR_ADMIN_TOKEN: '' },
  });
  // Closed before the child runs any of its code: its first write meets a pipe nobody reads.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stderr };
}

test('check, explain and diagnose keep their own exit code when stdout’s reader left', async () => {
  // Not a port the system picked and let go: another test file's listen(0) may be given it.
  const refusing = await startRefusing();
  const port = refusing.port;

  const cases: [readonly string[], number][] = [
    [['check', '--without-secrets', 'deploy/candor.yaml'], 0],
    [['explain', '--error', 'connection_refused'], 0],
    [['explain', 'test/kits/explain/fixtures/envoy.log'], 0],
    [['--help'], 0],
    [['diagnose', '--help'], 0],
    [['diagnose', `http://127.0.0.1:${port}/`], 2],
  ];
  try {
    for (const [args, expected] of cases) {
      const { code, stderr } = await withReaderGone(args);
      assert.equal(code, expected, `candor ${args.join(' ')}: ${stderr}`);
      assert.doesNotMatch(stderr, /internal error|EPIPE/, `candor ${args.join(' ')}`);
    }
  } finally {
    await refusing.close();
  }
});
