/**
 * An error a library makes in a plugin's timer, with none of the plugin's frames in its stack, is
 * not told apart from the gateway's own bug (docs/plugins.md): the worker ends as on any crash,
 * said in the log and replaced, exit code 1. Its end is Node's `process.exit`, called from the
 * plugin's timer's async context: the guard that refuses a plugin's own exit must not refuse it
 * (it did: the worker died of a second exception inside the handler, exit code 7, its stderr
 * blaming a plugin's process.exit that no plugin called).
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const PLUGIN = `import { boom } from 'thrower';
export default () => ({
  // After the answer: the crash cuts no request of this test's.
  onEnd(record) {
    if (record.path === '/crash') setTimeout(boom, 0);
  },
});
`;

let dir: string;
let app: Fault;
let serve: ServeProcess;

before(async () => {
  dir = tempDir('candor-plugins-crash-');
  app = await startEcho();
  await mkdir(join(dir, 'node_modules/thrower'), { recursive: true });
  await writeFile(
    join(dir, 'node_modules/thrower/package.json'),
    '{ "name": "thrower", "type": "module", "exports": "./index.js" }',
  );
  await writeFile(
    join(dir, 'node_modules/thrower/index.js'),
    "export function boom() { throw new Error('a library threw'); }\n",
  );
  await writeFile(join(dir, 'crashy.mjs'), PLUGIN);
  // A fixed port: the replacement listens where the first worker did.
  await writeFile(
    join(dir, 'candor.yaml'),
    `listen:
  - address: 127.0.0.1:${await freePort()}
plugins:
  crashy: { module: ./crashy.mjs }
routes:
  - { match: { path: / }, upstream: app, plugins: [crashy] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
  );
  serve = await startServe(join(dir, 'candor.yaml'), 1);
});
after(async () => {
  await closeAll(serve, app);
  await rm(dir, { recursive: true, force: true });
});

test("a library's error in a plugin's timer ends the worker as a crash, exit code 1, and it is replaced", async () => {
  assert.equal((await request(`http://127.0.0.1:${serve.port}`, { path: '/crash' })).status, 200);
  await serve.waitForLines('worker exited: starting another', 1);
  const crashed = serve.lines.find((l) => String(l.msg).startsWith('worker crashed'));
  assert.deepEqual([crashed?.level, crashed?.err], ['fatal', 'a library threw']);
  const exited = serve.lines.find((l) => l.msg === 'worker exited: starting another');
  assert.equal(exited?.exit, 1, serve.stderr());
  assert.doesNotMatch(serve.stderr(), /a plugin may not end/);
  await serve.waitForLines('listening', 2);
  assert.equal((await request(`http://127.0.0.1:${serve.port}`, { path: '/after' })).status, 200);
});
