/**
 * A worker restarted after a crash is sent its start (the snapshot in force) at its fork; an
 * admin change or a reload asked for while it boots reaches it in the same read of its channel
 * as its start. Node drops a message of that read that no listener is there for: the change
 * must not be lost (the worker would serve without it, and the call would wait 5 s to say so).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const TOKEN = 'admin-test-token-abcdefghijkl';

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('an admin change sent while a restarted worker boots is applied by it, and answered', async () => {
  const blue = await startEcho();
  const green = await startEcho();
  const dir = tempDir('candor-change-starting-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const [adminPort, port] = [await freePort(), await freePort()];
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:${port}
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${blue.url}
      - url: ${green.url}
`,
  );
  const serve = await startServe(path, 1, { admin: true });
  try {
    const primary = serve.child.pid as number;
    const [victim] = childrenOf(primary);
    process.kill(victim, 'SIGKILL');
    // The primary forks the next worker at once, and sends it its start.
    await waitUntil('a new worker', () => childrenOf(primary).some((pid) => pid !== victim), 10_000);
    const drained = await adminCall(adminPort, 'POST', '/targets/drain', {
      token: TOKEN,
      body: { upstream: 'app', target: blue.url },
    });
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    assert.deepEqual((drained.body.workers as { failed: unknown[] }).failed, []);
    await serve.waitForLines('listening', 2, 15_000);
    const before = blue.received.length;
    for (let i = 0; i < 10; i++) assert.equal((await request(`http://127.0.0.1:${serve.port}`)).status, 200);
    assert.equal(blue.received.length, before, 'the drained target gets nothing from the new worker');
  } finally {
    await serve.stop();
    await blue.close();
    await green.close();
  }
});
