/**
 * A reload of a `candor serve` with two workers whose plugin's module file was edited in place
 * (the same path, the config unchanged): the new code runs in every worker, by the admin API's
 * reload and by SIGHUP; a file left as it was is not imported again (its top-level code ran
 * once); a factory that throws on the new code, or a module that gives no plugin (no default
 * export, no function, no hooks, a hook that is no function, a syntax error), refuses the reload at
 * `plugins.NAME.module`, and the code before serves on. Node keeps each module it imported by URL: before the module's URL
 * carried its content's hash, the old code ran on and the reload said "ok".
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'plugins-reload-token-0123456789abcdef';

/**
 * A version of the plugin: its answers say the version, how many times this worker evaluated a
 * module of it (its top-level code), and the worker's pid.
 */
const version = (v: string) => `globalThis.pluginLoads = (globalThis.pluginLoads ?? 0) + 1;
const loads = globalThis.pluginLoads;
export default () => ({
  onResponse(response) {
    response.headers.set('x-ver', '${v}');
    response.headers.set('x-loads', String(loads));
    response.headers.set('x-pid', String(process.pid));
  },
});
`;

describe('a plugin module edited in place, then reloaded', () => {
  let dir: string;
  let app: Fault;
  let serve: ServeProcess;
  const plugin = () => join(dir, 'ver.mjs');

  before(async () => {
    dir = tempDir('candor-plugins-reload-');
    app = await startEcho();
    writeFileSync(plugin(), version('1'));
    writeFileSync(
      join(dir, 'candor.yaml'),
      `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${await freePort()}", token_env: RELOAD_TOKEN }
plugins:
  ver: { module: ./ver.mjs }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [ver] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    );
    serve = await startServe(join(dir, 'candor.yaml'), 2, { admin: true, env: { RELOAD_TOKEN: TOKEN } });
  });
  after(async () => {
    await serve?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const reload = () => adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });

  /** What both workers answer (new connections until each has answered): version and loads, by pid. */
  async function bothWorkers(): Promise<Map<string, string>> {
    const seen = new Map<string, string>();
    for (let tries = 0; seen.size < 2; tries++) {
      assert.ok(tries < 100, `one worker answered only: ${[...seen]}`);
      const res = await request(`http://127.0.0.1:${serve.port}`, { path: '/x' });
      assert.equal(res.status, 200);
      seen.set(String(res.headers['x-pid']), `v${res.headers['x-ver']} loads=${res.headers['x-loads']}`);
    }
    return seen;
  }

  test('a reload with the file unchanged makes new instances of the same module: not imported again', async () => {
    assert.deepEqual([...(await bothWorkers()).values()], ['v1 loads=1', 'v1 loads=1']);
    const reloaded = await reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.deepEqual([...(await bothWorkers()).values()], ['v1 loads=1', 'v1 loads=1']);
  });

  test('the file edited in place: the reload runs the new code in every worker', async () => {
    writeFileSync(plugin(), version('2'));
    const reloaded = await reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.deepEqual([...(await bothWorkers()).values()], ['v2 loads=2', 'v2 loads=2']);
  });

  test('a factory that throws on the new code refuses the reload at plugins.ver.module; the code before serves on', async () => {
    writeFileSync(plugin(), "export default () => { throw new Error('factory boom'); };\n");
    const refused = await reload();
    assert.equal(refused.status, 400, refused.text);
    const problems = (refused.body.reload as { problems: { path: string; message: string }[] }).problems;
    assert.deepEqual(
      problems.map((p) => [p.path, p.message]),
      // Its file and the line that threw, as a syntax error's are named.
      [['plugins.ver.module', `the plugin's factory threw: factory boom (at ${plugin()}:1)`]],
    );
    assert.deepEqual([...(await bothWorkers()).values()], ['v2 loads=2', 'v2 loads=2']);
  });

  test('a module that gives no plugin refuses the reload, each said at plugins.ver.module; the code before serves on', async () => {
    const cannotLoad = `cannot load ${plugin()}: `;
    const notAFactory = `${cannotLoad}its default export is not a function (options, context) => hooks`;
    for (const [code, said] of [
      [
        'export default () => 5;\n',
        (m: string) => m === "the plugin's factory returned 5, not an object of hooks",
      ],
      [
        "export default () => ({ onRequest: 'nope' });\n",
        (m: string) => m === `the plugin's hook onRequest is "nope", not a function`,
      ],
      ['export const plugin = () => ({});\n', (m: string) => m === notAFactory],
      ['export default { onRequest() {} };\n', (m: string) => m === notAFactory],
      // Its file and line, from the check the reload makes first.
      [
        'export default () => ({ onRequest( });\n',
        (m: string) => m.startsWith(cannotLoad) && m.endsWith(`(at ${plugin()}:1)`),
      ],
    ] as const) {
      writeFileSync(plugin(), code);
      const refused = await reload();
      assert.equal(refused.status, 400, refused.text);
      const problems = (refused.body.reload as { problems: { path: string; message: string }[] }).problems;
      assert.deepEqual(
        problems.map((p) => p.path),
        ['plugins.ver.module'],
      );
      assert.ok(said(problems[0].message), problems[0].message);
      assert.deepEqual([...(await bothWorkers()).values()], ['v2 loads=2', 'v2 loads=2']);
    }
  });

  test("a module whose top-level code signals the gateway's primary refuses the reload at plugins.ver.module: the check's process is refused it, the gateway serves on", async () => {
    // Run first by the reload's check, in a process of its own whose parent is the primary.
    writeFileSync(plugin(), "process.kill(process.ppid, 'SIGTERM');\nexport default () => ({});\n");
    const refused = await reload();
    assert.equal(refused.status, 400, refused.text);
    const problems = (refused.body.reload as { problems: { path: string; message: string }[] }).problems;
    assert.deepEqual(
      problems.map((p) => [p.path, p.message.replace(/\(\d+, /, '(PID, ')]),
      [
        [
          'plugins.ver.module',
          `cannot load ${plugin()}: its top-level code called process.kill(PID, SIGTERM) (at ${plugin()}:1)`,
        ],
      ],
    );
    assert.deepEqual([...(await bothWorkers()).values()], ['v2 loads=2', 'v2 loads=2']);
  });

  test('SIGHUP after an edit runs the new code too', async () => {
    writeFileSync(plugin(), version('3'));
    const reloads = serve.lines.filter((l) => l.msg === 'config reloaded').length;
    serve.child.kill('SIGHUP');
    await serve.waitForLines('config reloaded', reloads + 1, 15_000);
    assert.deepEqual([...(await bothWorkers()).values()], ['v3 loads=3', 'v3 loads=3']);
  });
});
