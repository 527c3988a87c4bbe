/**
 * A plugin module in CommonJS, as docs/plugins.md allows one (a `.cjs` file, a `.js` one outside
 * a `"type": "module"` package), through `candor serve` with one worker: `module.exports = factory`
 * serves, and edited in place its reload runs the new code, as an ES module's does. Node keeps a
 * CommonJS file in `require.cache` by its path, whatever query the URL importing it carries: the
 * reload said "ok" and the old code served on. And the CommonJS a TypeScript plugin compiles to
 * (`export default plugin` under `module: commonjs`: `exports.default`, marked `__esModule`), its
 * default export as its author wrote it: refused as "its default export is not a function", for
 * Node hands an import of CommonJS its `module.exports` as the default.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'plugins-commonjs-token-0123456789abcdef';
const BIN = join(import.meta.dirname, '../../../bin/candor.js');

/** A CommonJS version of a plugin that says its version on the answer. */
const commonjs = (v: string) => `'use strict';
module.exports = () => ({
  onResponse(response) {
    response.headers.set('x-ver', 'cjs${v}');
  },
});
`;

/** What tsc (module: commonjs) makes of `export default plugin` and `export function validate`. */
const compiled = `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.validate = validate;
function validate(options) {
    return typeof options.tag === 'string' ? [] : [{ path: 'tag', message: 'must be a string' }];
}
const plugin = (options) => ({
    onResponse(response) {
        response.headers.set('x-tag', options.tag);
    },
});
exports.default = plugin;
`;

describe('a CommonJS plugin module', () => {
  let dir: string;
  let app: Fault;
  let serve: ServeProcess;

  before(async () => {
    dir = tempDir('candor-plugins-cjs-');
    app = await startEcho();
    writeFileSync(join(dir, 'ver.cjs'), commonjs('1'));
    writeFileSync(join(dir, 'tagged.js'), compiled);
    writeFileSync(
      join(dir, 'candor.yaml'),
      `listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${await freePort()}", token_env: CJS_TOKEN }
plugins:
  ver: { module: ./ver.cjs }
  tagged: { module: ./tagged.js, options: { tag: t1 } }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [ver, tagged] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    );
    serve = await startServe(join(dir, 'candor.yaml'), 1, { admin: true, env: { CJS_TOKEN: TOKEN } });
  });
  after(async () => {
    await serve?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('module.exports = factory serves; the default export tsc compiles (exports.default) is the factory, its validate read', async () => {
    const res = await request(`http://127.0.0.1:${serve.port}`, { path: '/x' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-ver'], 'cjs1');
    assert.equal(res.headers['x-tag'], 't1');
  });

  test("candor check runs the compiled module's validate: its problem at the option's field and line", () => {
    const file = join(dir, 'bad-tag.yaml');
    writeFileSync(
      file,
      `listen:
  - address: 127.0.0.1:0
plugins:
  tagged:
    module: ./tagged.js
    options: { tag: 5 }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [tagged] }
upstreams:
  app: { targets: [{ url: ${app.url} }] }
`,
    );
    const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 78, run.stderr + run.stdout);
    assert.match(run.stderr, /bad-tag\.yaml:6:\d+ +plugins\.tagged\.options\.tag: must be a string/);
  });

  test('edited in place, then reloaded: the new code runs', async () => {
    writeFileSync(join(dir, 'ver.cjs'), commonjs('2'));
    const reloaded = await adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
    assert.equal(reloaded.status, 200, reloaded.text);
    const res = await request(`http://127.0.0.1:${serve.port}`, { path: '/x' });
    assert.equal(res.headers['x-ver'], 'cjs2');
  });
});
