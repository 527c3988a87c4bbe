/**
 * `plugins:` in an included file: real files in a temp folder, an include folder holding its own
 * plugin module beside its routes. Its plugins join the one namespace (routes of any file name
 * them); a module path is taken from the included file's folder; each problem of its plugin (a
 * module not found or broken, options its validate refuses) names the included file, its line
 * and `plugins.NAME.FIELD`; a name defined in two files is refused naming both.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { loadConfigFile } from '../../../src/core/config/load.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const root = tempDir('candor-includes-plugins-');
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;

/** A folder of `files` (name → text), the main one `candor.yaml`; returns its path. */
function folder(files: Record<string, string>): string {
  const dir = join(root, String(made++));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, 'candor.yaml');
}

const MAIN = (more = '', routePlugins = '[tag]') => `listen: [{ address: "127.0.0.1:0" }]
include: [teams/*/routes.yaml]
routes:
  - name: main
    match: { path: /main }
    upstream: app
    plugins: ${routePlugins}
upstreams:
  app: { targets: [{ url: "http://127.0.0.1:3001" }] }
${more}`;

/** The team's file: its plugin, at line 2 (its module at line 3), and a route that runs it. */
const TEAM = (module = './tag.mjs', options = '{ limit: 5 }') => `plugins:
  tag:
    module: ${module}
    options: ${options}
routes:
  - { name: team, match: { path: /team }, upstream: app, plugins: [tag] }
`;

const TAG =
  "export function validate(o) { return o?.limit > 10 ? [{ path: 'limit', message: 'expected at most 10' }] : []; }\nexport default () => ({});\n";

async function problems(path: string): Promise<string[]> {
  try {
    await loadConfigFile(path, {});
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map(
      (p) => `${p.file.slice(p.file.indexOf('/', root.length + 1) + 1)}:${p.line} ${p.path}: ${p.message}`,
    );
  }
  assert.fail('the config loaded');
}

test("an included file's plugin, its module beside it, runs on a route of the main file and one of its own", async () => {
  const path = folder({
    'candor.yaml': MAIN(),
    'teams/a/routes.yaml': TEAM(),
    'teams/a/tag.mjs': TAG,
  });
  const config = await loadConfigFile(path, {});
  assert.equal(config.plugins?.tag?.module, join(path, '../teams/a/tag.mjs'));
  assert.deepEqual({ ...(config.plugins?.tag?.options as object) }, { limit: 5 });
  assert.deepEqual(
    config.routes.map((route) => [route.name, route.plugins]),
    [
      ['main', ['tag']],
      ['team', ['tag']],
    ],
  );
});

test("a module path in an included file is its folder's, not the main file's: one only beside the main file is not found, named at the include's line", async () => {
  const path = folder({
    'candor.yaml': MAIN(),
    'teams/a/routes.yaml': TEAM(),
    // Beside the main file: the include's ./tag.mjs is not this one.
    'tag.mjs': TAG,
  });
  const said = await problems(path);
  assert.equal(said.length, 1, said.join('\n'));
  assert.match(
    said[0],
    /^teams\/a\/routes\.yaml:3 plugins\.tag\.module: cannot load \S*\/teams\/a\/tag\.mjs: Cannot find module/,
  );
});

test("a broken module, or options its validate refuses, in an included file is named at that file's line and field", async () => {
  const broken = await problems(
    folder({
      'candor.yaml': MAIN(),
      'teams/a/routes.yaml': TEAM('./broken.mjs'),
      'teams/a/broken.mjs': 'export default () => ({\n  onRequest( {\n});\n',
    }),
  );
  assert.equal(broken.length, 1, broken.join('\n'));
  assert.match(
    broken[0],
    /^teams\/a\/routes\.yaml:3 plugins\.tag\.module: cannot load \S*broken\.mjs: Unexpected token ';' \(at \S*teams\/a\/broken\.mjs:3\)$/,
  );
  assert.deepEqual(
    await problems(
      folder({
        'candor.yaml': MAIN(),
        'teams/a/routes.yaml': TEAM('./tag.mjs', '{ limit: 50 }'),
        'teams/a/tag.mjs': TAG,
      }),
    ),
    ['teams/a/routes.yaml:4 plugins.tag.options.limit: expected at most 10'],
  );
});

test("a route naming a plugin no file defines is told the included files' plugins too (did you mean)", async () => {
  const path = folder({
    'candor.yaml': MAIN('', '[tga]'),
    'teams/a/routes.yaml': TEAM(),
    'teams/a/tag.mjs': TAG,
  });
  assert.deepEqual(await problems(path), [
    "candor.yaml:7 routes[0].plugins[0]: no plugin named 'tga' (did you mean 'tag'?)",
  ]);
});

test('a plugin name defined in the main file and an include, or in two includes, is refused naming both files', async () => {
  const main = folder({
    'candor.yaml': MAIN('plugins:\n  tag: { module: ./teams/a/tag.mjs }\n'),
    'teams/a/routes.yaml': TEAM(),
    'teams/a/tag.mjs': TAG,
  });
  assert.deepEqual(await problems(main), [
    `teams/a/routes.yaml:2 plugins.tag: plugin 'tag' is defined in ${main} too, at line 11: a plugin has one name in the whole config`,
  ]);
  const two = folder({
    'candor.yaml': MAIN(),
    'teams/a/routes.yaml': TEAM(),
    'teams/a/tag.mjs': TAG,
    'teams/b/routes.yaml': 'plugins:\n  tag: { module: ./tag.mjs }\n',
    'teams/b/tag.mjs': TAG,
  });
  assert.deepEqual(await problems(two), [
    `teams/b/routes.yaml:2 plugins.tag: plugin 'tag' is defined in ${join(two, '../teams/a/routes.yaml')} too, at line 2: a plugin has one name in the whole config`,
  ]);
});
