/**
 * A canary rolled back while its state_dir is full: the verdict could not be kept on disk (said
 * once), and nothing wrote it again once there was room, so a restart later ran the rolled-back
 * canary from its first step (10 % back to the version found worse). Now a verdict not kept is
 * written again, every check_interval, until it is: a real tiny tmpfs, filled, then freed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { canaryRoutes, TOKEN } from './canary-fixture.ts';

let stable: CanaryOrigin;
let next: CanaryOrigin;
before(async () => {
  stable = await startCanaryOrigin('stable');
  next = await startCanaryOrigin('next');
});
after(async () => {
  await stable?.close();
  await next?.close();
});

/** A 64 KiB tmpfs at `dir`; false where this process may not mount one (not root). */
function mountTiny(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('a rollback its full state_dir could not keep is kept once there is room: a restart keeps it rolled back', {
  timeout: 120_000,
}, async (t) => {
  const dir = tempDir('candor-verdict-full-');
  const state = join(dir, 'state');
  mkdirSync(state);
  const mounted = mountTiny(state);
  // Unmounted before the folder goes (its removal would stop at the mount point).
  t.after(() => {
    if (mounted) execFileSync('umount', [state]);
    rmSync(dir, { recursive: true, force: true });
  });
  if (!mounted) return t.skip('mounting a tmpfs needs root');
  // Filled to the last block: the verdict's file cannot be written.
  const filler = join(state, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(128 * 1024));
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  const adminPort = await freePort();
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: canary-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: token }
state_dir: ${state}
${canaryRoutes('steps: [10, 50], step_interval: 10s, check_interval: 200ms, min_requests: 100000', stable.url, next.url)}`,
  );
  const call = (method: string, p: string, body?: unknown) =>
    adminCall(adminPort, method, p, { token: TOKEN, body });
  const canaryNow = async () =>
    ((await call('GET', '/canary')).body.canaries as Record<string, unknown>[])[0];
  const verdict = join(state, 'canaries', 'canary-edge', 'api.json');

  let serve = await startServe(path, 1, { admin: true });
  try {
    await serve.waitForLines('canary step', 1, 15_000);
    assert.equal((await call('POST', '/canary/rollback', { route: 'api' })).status, 200);
    await serve.waitForLines(
      'canary verdict not kept on disk (state_dir): a restart would start the canary from its first step',
      1,
      10_000,
    );
    assert.equal(existsSync(verdict), false);
    // Room again: the verdict is written without anything else happening to the canary.
    rmSync(filler);
    await waitUntil('the verdict kept on disk', () => existsSync(verdict), 10_000);
    await serve.waitForLines('canary verdict kept on disk after all', 1);
  } finally {
    assert.equal(await serve.stop(), 0);
  }
  serve = await startServe(path, 1, { admin: true });
  try {
    await serve.waitForLines('canary verdict kept from before the restart', 1, 15_000);
    const kept = await canaryNow();
    assert.equal(kept.phase, 'rolled_back');
    assert.equal(kept.share, 0);
    assert.equal(serve.lines.filter((l) => l.msg === 'canary step').length, 0);
  } finally {
    assert.equal(await serve.stop(), 0);
  }
});
