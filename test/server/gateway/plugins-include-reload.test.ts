/**
 * A reload of a `candor serve` whose plugin an included file defines, its module beside that
 * file: the reload reads the include again, and options changed there re-make the plugin as the
 * main file's would; a factory that throws on them refuses the reload at the included file's
 * line and `plugins.NAME.module`, and the plugin before serves on.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'plugins-include-reload-token-0123456789';

/** Tags each answer with its options' `value`; refuses `boom` from its factory. */
const TAG = `export default (options) => {
  if (options.value === 'boom') throw new Error('no boom here');
  return { onResponse(response) { response.headers.set('x-tag', options.value); } };
};
`;

/** The team's file: its plugin (its module at line 3), and a route of its own that runs it. */
const team = (value: string) => `plugins:
  tag:
    module: ./tag.mjs
    options: { value: ${value} }
routes:
  - { name: team, match: { path: /team }, upstream: app, plugins: [tag] }
`;

describe('a plugin an included file defines, its options changed there, then reloaded', () => {
  let dir: string;
  let app: Fault;
  let serve: ServeProcess;
  const teamFile = () => join(dir, 'team', 'routes.yaml');

  before(async () => {
    dir = tempDir('candor-plugins-include-reload-');
    app = await startEcho();
    mkdirSync(join(dir, 'team'));
    writeFileSync(join(dir, 'team', 'tag.mjs'), TAG);
    writeFileSync(teamFile(), team('one'));
    writeFileSync(
      join(dir, 'candor.yaml'),
      `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${await freePort()}", token_env: RELOAD_TOKEN }
include: [team/routes.yaml]
routes:
  - { name: main, match: { path: /main }, upstream: app, plugins: [tag] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    );
    serve = await startServe(join(dir, 'candor.yaml'), 1, { admin: true, env: { RELOAD_TOKEN: TOKEN } });
  });
  after(async () => {
    await serve?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const reload = () => adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });

  /** The tag on the main file's route and on the team's. */
  async function tags(): Promise<unknown[]> {
    const main = await request(`http://127.0.0.1:${serve.port}`, { path: '/main' });
    const own = await request(`http://127.0.0.1:${serve.port}`, { path: '/team' });
    assert.equal(main.status, 200);
    assert.equal(own.status, 200);
    return [main.headers['x-tag'], own.headers['x-tag']];
  }

  test("the included file's plugin runs on the main file's route and its own", async () => {
    assert.deepEqual(await tags(), ['one', 'one']);
  });

  test('options changed in the included file: the reload re-makes the plugin', async () => {
    writeFileSync(teamFile(), team('two'));
    const reloaded = await reload();
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.deepEqual(await tags(), ['two', 'two']);
  });

  test("a factory that throws on the new options refuses the reload at the included file's line; the plugin before serves on", async () => {
    writeFileSync(teamFile(), team('boom'));
    const refused = await reload();
    assert.equal(refused.status, 400, refused.text);
    const problems = (
      refused.body.reload as { problems: { file: string; line: number; path: string; message: string }[] }
    ).problems;
    assert.deepEqual(
      problems.map((p) => [p.file, p.line, p.path, p.message]),
      [
        [
          teamFile(),
          3,
          'plugins.tag.module',
          `the plugin's factory threw: no boom here (at ${join(dir, 'team', 'tag.mjs')}:2)`,
        ],
      ],
    );
    assert.deepEqual(await tags(), ['two', 'two']);
  });
});
