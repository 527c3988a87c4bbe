/**
 * A canary's verdict kept on disk (`<state_dir>/canaries/<gateway>/<route>.json`) that is no
 * regular file: a FIFO nobody writes (its open waited for a writer, and the gateway never started
 * serving), a link to /dev/zero (read without end). The gateway starts, serves, and says the
 * verdict cannot be read: the canary starts from its first step.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type CanaryOrigin, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { request } from '../../helpers/http-client.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { canaryRoutes } from './canary-fixture.ts';

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

for (const [shape, make] of [
  ['a FIFO nobody writes', (path: string) => execFileSync('mkfifo', [path])],
  ['a link to /dev/zero', (path: string) => execFileSync('ln', ['-s', '/dev/zero', path])],
] as [string, (path: string) => void][])
  test(`a kept verdict that is ${shape}: the gateway starts and serves, and says it cannot read it`, async (t) => {
    const dir = tempDir('candor-verdict-odd-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const stateHome = join(dir, 'state');
    const verdicts = join(stateHome, 'candor', 'canaries', 'canary-edge');
    mkdirSync(verdicts, { recursive: true, mode: 0o700 });
    make(join(verdicts, 'api.json'));
    const path = join(dir, 'candor.yaml');
    writeFileSync(
      path,
      `name: canary-edge\nlisten:\n  - address: 127.0.0.1:0\n${canaryRoutes('steps: [10, 50], step_interval: 10s, check_interval: 200ms, min_requests: 100000', stable.url, next.url)}`,
    );
    const serve = await startServe(path, 1, { env: { XDG_STATE_HOME: stateHome } });
    t.after(() => serve.stop());
    await serve.waitForLines(
      'canary verdict kept on disk cannot be read: the canary starts from its first step',
      1,
      10_000,
    );
    const got = await request(`http://127.0.0.1:${serve.port}`, { path: '/api/x', timeoutMs: 5000 });
    assert.equal(got.status, 200);
  });
