/**
 * A listener written on port 0 under `serve --workers N` keeps the port it got once every
 * worker has died: with the cluster's round robin the primary's socket for the port closes with
 * its last worker, and the replacements were given another port by the system, while the start
 * line, the fleet's record and every client still named the first, which refused connections,
 * and /ready said ready. On a real `candor serve --workers 1`, with a real SIGKILL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { adminCall, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const TOKEN = 'port-zero-kept-token-abcdefgh';
const MOVED = 'listener moved: the port it was given (port 0) was taken once every worker had died';

/** A config on port 0 (the admin API too) proxying to an echo upstream. */
async function portZeroConfig(): Promise<{ echo: Awaited<ReturnType<typeof startEcho>>; path: string }> {
  const echo = await startEcho();
  const dir = tempDir('candor-port-zero-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }\n` +
      `routes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`,
  );
  return { echo, path };
}

test('port 0 under --workers: the replacement of the last worker listens on the port the gateway announced', async () => {
  const { echo, path } = await portZeroConfig();
  const candor = await startServe(path, 1, { admin: true });
  try {
    const before = await fetch(`http://127.0.0.1:${candor.port}/`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(before.status, 200);
    await before.text();
    for (let kills = 1; kills <= 2; kills++) {
      const status = await adminCall(candor.adminPort as number, 'GET', '/status', { token: TOKEN });
      const [worker] = status.body.workers as { pid: number }[];
      process.kill(worker.pid, 'SIGKILL');
      await candor.waitForLines('worker exited: starting another', kills, 15_000);
      await candor.waitForLines('listening', kills + 1, 20_000);
      const after = await fetch(`http://127.0.0.1:${candor.port}/`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(after.status, 200, `after kill ${kills}`);
      await after.text();
    }
    const moved = candor.lines.filter((l) => l.msg === 'listening').map((l) => l.address);
    assert.deepEqual(moved, Array(3).fill(`127.0.0.1:${candor.port}`));
  } finally {
    assert.equal(await candor.stop(), 0, candor.stderr());
    await echo.close();
  }
});

/** Listens on `port` once the gateway's socket for it has closed (EADDRINUSE until then, a few tries). */
async function takePort(port: number): Promise<Server> {
  for (let tries = 0; ; tries++) {
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      return server;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries >= 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

test('port 0 under --workers, the port taken by another program once every worker died: the replacement listens elsewhere and the log says the listener moved', async () => {
  const { echo, path } = await portZeroConfig();
  const candor = await startServe(path, 1, { admin: true });
  let squatter: Server | undefined;
  try {
    // Killed as it starts, again and again, until the replacement waits long enough (a crash
    // loop's backoff: 0, 100, 200, 400 ms…) for the port to be taken meanwhile.
    for (let kills = 1; ; kills++) {
      const status = await adminCall(candor.adminPort as number, 'GET', '/status', { token: TOKEN });
      const [worker] = status.body.workers as { pid: number }[];
      process.kill(worker.pid, 'SIGKILL');
      await candor.waitForLines('worker exited: starting another', kills, 15_000);
      const exited = candor.lines.filter((l) => l.msg === 'worker exited: starting another').at(-1);
      if (Number(exited?.restart_in_ms) >= 400) {
        squatter = await takePort(candor.port);
        await candor.waitForLines('listening', kills + 1, 20_000);
        break;
      }
      await candor.waitForLines('listening', kills + 1, 20_000);
    }
    const now = String(candor.lines.filter((l) => l.msg === 'listening').at(-1)?.address);
    assert.notEqual(now, `127.0.0.1:${candor.port}`);
    // Said by the primary once the worker tells it serves (after its own `listening` line).
    await candor.waitForLines(MOVED, 1, 10_000);
    const moved = candor.lines.filter((l) => l.msg === MOVED);
    assert.deepEqual(
      moved.map((l) => [l.level, l.listener, l.was, l.now]),
      [['warn', '127.0.0.1:0', `127.0.0.1:${candor.port}`, now]],
    );
    const there = await fetch(`http://${now}/`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(there.status, 200);
    await there.text();
  } finally {
    squatter?.close();
    assert.equal(await candor.stop(), 0, candor.stderr());
    await echo.close();
  }
});
