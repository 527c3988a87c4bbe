/**
 * A plugin's errors that nothing catches, made while the worker starts: its module's top-level
 * code leaves a rejection, its factory sets a timer that throws before the worker listens. The
 * worker's handler of such errors was installed once the gateway had started, so each ended the
 * worker, and its replacement the same way: `candor check` said ok, and `candor serve` never
 * served (a worker restarted again and again). They are the plugin's, told as its errors later
 * are (naming it, counted), and the worker serves.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';
import { sampleValue, scrapeUntil } from '../../observe/metrics/scrape.ts';

const EARLY = `Promise.reject(new Error('left at the top level'));
export default () => {
  setTimeout(() => { throw new Error('thrown from the factory\\'s timer'); }, 0);
  return { onResponse(response) { response.headers.set('x-early', 'served'); } };
};
`;

const TOKEN = 'plugins-stray-start-token-0123456789abcdef';

const STRAY = "a plugin's error nothing caught (a timer it set, a promise it left): the worker goes on";

let dir: string;
let app: Fault;
let serve: ServeProcess;
let metricsPort: number;

before(async () => {
  dir = tempDir('candor-plugins-stray-start-');
  app = await startEcho();
  metricsPort = await freePort();
  await writeFile(join(dir, 'early.mjs'), EARLY);
  await writeFile(
    join(dir, 'candor.yaml'),
    `listen:
  - address: 127.0.0.1:0
metrics: { listen: "127.0.0.1:${metricsPort}" }
admin: { listen: "127.0.0.1:${await freePort()}", token_env: STRAY_TOKEN }
plugins:
  early: { module: ./early.mjs }
routes:
  - { match: { path: / }, upstream: app, plugins: [early] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
  );
  serve = await startServe(join(dir, 'candor.yaml'), 1, { admin: true, env: { STRAY_TOKEN: TOKEN } });
});
after(async () => {
  await closeAll(serve, app);
  await rm(dir, { recursive: true, force: true });
});

test("errors a plugin leaves while the worker starts are the plugin's: told, counted, and the worker serves", async () => {
  const res = await request(`http://127.0.0.1:${serve.port}`, { path: '/x' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-early'], 'served');
  await serve.waitForLines(STRAY, 2);
  const told = serve.lines.filter((l) => l.msg === STRAY);
  assert.deepEqual(told.map((l) => [l.level, l.plugin, l.module, l.origin, l.err]).sort(), [
    ['error', 'early', join(dir, 'early.mjs'), 'uncaughtException', "thrown from the factory's timer"],
    ['error', 'early', join(dir, 'early.mjs'), 'unhandledRejection', 'left at the top level'],
  ]);
  const all = await scrapeUntil(
    metricsPort,
    (s) => sampleValue(s, 'candor_plugin_uncaught_errors_total', { plugin: 'early' }) === 2,
  );
  assert.equal(sampleValue(all, 'candor_plugin_uncaught_errors_total', { plugin: 'early' }), 2);
  // And in /status (the status page's Plugins table reads it), beside its hooks' counts.
  const status = await adminCall(serve.adminPort as number, 'GET', '/status', { token: TOKEN });
  const plugins = status.body.plugins as Record<string, { uncaught?: number }>;
  assert.equal(plugins['plugin:early']?.uncaught, 2, status.text);
  assert.deepEqual(
    serve.lines.filter((l) => /worker (crashed|exited)/.test(String(l.msg))),
    [],
    'no worker ended',
  );
  assert.equal(serve.lines.filter((l) => l.msg === 'listening').length, 1, 'the first worker serves');
});
