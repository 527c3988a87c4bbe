/**
 * `candor serve` whose stderr is a pipe nobody reads any more (journald restarted, a supervisor's
 * log reader gone, `candor serve 2>&1 | head`): every line the primary says there (a worker
 * replaced, SIGUSR2's answer) meets EPIPE. It used to end the primary on the spot, exit 1 with
 * nothing said anywhere, and its workers drained and left with it: one worker's death took the
 * whole gateway down. Now stderr's errors are dropped: the gateway serves on and drains as asked.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** The pids of a process's children: a `candor serve`'s workers. */
const childrenOf = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

test("stderr's reader left: a worker killed is replaced, SIGUSR2 and SIGHUP are answered, SIGTERM drains to exit 0", async () => {
  const upstream = await startEcho();
  const config = join(tempDir('candor-closed-stderr-'), 'candor.yaml');
  writeFileSync(
    config,
    `listen: [{ address: 127.0.0.1:0 }]\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets: [{ url: ${upstream.url} }]\n`,
  );
  const serve = await startServe(config, 2);
  try {
    const primary = serve.child.pid as number;
    // The only reader of stderr goes away: each write to it now fails with EPIPE.
    serve.child.stderr?.destroy();
    const base = `http://127.0.0.1:${serve.port}`;
    const [first] = childrenOf(primary);
    process.kill(first, 'SIGKILL');
    // The primary says so on stderr (EPIPE), logs it, and starts another, which listens.
    await serve.waitForLines('worker exited: starting another', 1);
    await serve.waitForLines('listening', 3, 30_000);
    assert.equal(serve.child.exitCode, null, 'the primary still runs');
    for (let i = 0; i < 4; i++) assert.equal((await request(base, { path: `/after-kill-${i}` })).status, 200);

    // SIGUSR2's answer goes to stderr too; SIGHUP's reload is logged on stdout.
    serve.child.kill('SIGUSR2');
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', 1, 30_000);
    await waitUntil('two workers', () => childrenOf(primary).length === 2);
    assert.equal((await request(base, { path: '/after-reload' })).status, 200);
    assert.equal(await serve.stop(), 0);
  } finally {
    serve.child.kill('SIGKILL');
    await upstream.close();
  }
});
