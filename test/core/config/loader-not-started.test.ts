/**
 * The process that reads a config cannot be started for want of a file descriptor (a real
 * EMFILE: the open-file limit lowered with prlimit to what the process holds): the load fails
 * saying so, and what to do, as `candor serve` then says in one line (exit 69). It threw
 * "loader.send is not a function" (node:child_process leaves a process it could not start without
 * an IPC channel), and serve died with that stack.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LoaderNotStarted, loadConfigAndProbe } from '../../../src/core/config/load-isolated.ts';
import { exhaustDescriptors } from '../../helpers/descriptors.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

test('a config loader that cannot be started (EMFILE) is a LoaderNotStarted naming the open-file limit', async () => {
  const path = join(tempDir('candor-loader-emfile-'), 'candor.yaml');
  writeFileSync(
    path,
    'listen:\n  - address: 127.0.0.1:0\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n',
  );
  const release = exhaustDescriptors();
  let outcome: unknown;
  try {
    outcome = await loadConfigAndProbe(path, []).catch((err: unknown) => err);
  } finally {
    release();
  }
  assert.ok(outcome instanceof LoaderNotStarted, `a LoaderNotStarted, not ${String(outcome)}`);
  assert.equal(outcome.code, 'EMFILE');
  assert.equal(
    outcome.message,
    `could not start the process that reads ${path}: EMFILE (no file descriptor left: raise the open-file limit, ulimit -n or systemd LimitNOFILE=)`,
  );
  // With descriptors again, the same file loads.
  assert.equal((await loadConfigAndProbe(path, [])).config.routes.length, 1);
});
