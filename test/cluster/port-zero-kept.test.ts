/**
 * A listener written on port 0 under `serve --workers N` keeps the port it got once every
 * worker has died: with the cluster's round robin the primary's socket for the port closes with
 * its last worker, and the replacements were given another port by the system, while the start
 * line, the fleet's record and every client still named the first, which refused connections,
 * and /ready said ready. On a real `candor serve --workers 1`, with a real SIGKILL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { adminCall, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const TOKEN = 'port-zero-kept-token-abcdefgh';

test('port 0 under --workers: the replacement of the last worker listens on the port the gateway announced', async () => {
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
