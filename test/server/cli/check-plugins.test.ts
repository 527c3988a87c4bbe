/**
 * `candor check` on a config with plugins (issue 57): it imports each module and asks it of its
 * options, and names the file, line and field of a module that does not load (a syntax error at
 * its own file and line, top-level code that never finishes past its deadline), a factory that
 * is none, options the plugin refuses (or a validate that answers no list), and a route naming a
 * plugin the config lacks (did you mean). A module's timer does not keep the check running, nor
 * any other command that loads the config.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-check-plugins-');
after(() => rmSync(dir, { recursive: true, force: true }));

writeFileSync(
  join(dir, 'good.ts'),
  "export function validate(o: { n?: unknown }): string[] { return typeof o?.n === 'number' ? [] : [] }\nexport default () => ({});\n",
);
writeFileSync(
  join(dir, 'picky.mjs'),
  "export function validate(o) { return o?.limit > 10 ? [{ path: 'limit', message: 'expected at most 10' }] : []; }\nexport default () => ({});\n",
);
writeFileSync(join(dir, 'broken.ts'), 'export default () => ({ onRequest( });\n');
writeFileSync(join(dir, 'nodefault.mjs'), 'export const x = 1;\n');
writeFileSync(
  join(dir, 'async-validate.mjs'),
  "export async function validate() { throw new Error('later'); }\nexport default () => ({});\n",
);
writeFileSync(join(dir, 'broken.mjs'), 'export default () => ({\n  onRequest( {\n});\n');
// A module whose own file parses, but a helper it imports does not (at its line 3).
writeFileSync(join(dir, 'helper-broken.mjs'), 'export const x = 1;\nexport const y = {\n  a: ,\n};\n');
writeFileSync(
  join(dir, 'imports-broken.mjs'),
  "import { x } from './helper-broken.mjs';\nexport default () => ({ x });\n",
);
writeFileSync(
  join(dir, 'imports-broken.ts'),
  "import { x } from './helper-broken.mjs';\nexport default (): object => ({ x });\n",
);
writeFileSync(
  join(dir, 'says42.mjs'),
  'export function validate() { return 42; }\nexport default () => ({});\n',
);
// Top-level code that never finishes, and keeps the process busy meanwhile (a timer).
writeFileSync(
  join(dir, 'stuck.mjs'),
  'await new Promise(() => setInterval(() => {}, 1000));\nexport default () => ({});\n',
);
// A module whose top-level code throws, at its line 2.
writeFileSync(
  join(dir, 'throws.mjs'),
  "const ready = false;\nthrow new Error('not configured');\nexport default () => ({});\n",
);
// A module whose top-level code ends the process.
writeFileSync(join(dir, 'exits.mjs'), 'process.exit(0);\nexport default () => ({});\n');
// Modules whose top-level code ends the process by the other calls Node gives.
writeFileSync(join(dir, 'aborts.mjs'), 'process.abort();\nexport default () => ({});\n');
writeFileSync(join(dir, 'kills.mjs'), "process.kill(process.pid, 'SIGKILL');\nexport default () => ({});\n");
writeFileSync(join(dir, 'really-exits.mjs'), 'process.reallyExit(0);\nexport default () => ({});\n');
// A good module that starts a timer at import (a refresh every minute).
writeFileSync(join(dir, 'ticking.mjs'), 'setInterval(() => {}, 60_000);\nexport default () => ({});\n');

/** The config `candor check` is given in `file`: one route with `routePlugins`, the `plugins` section. */
function writeConfig(file: string, plugins: string, routePlugins: string): void {
  writeFileSync(
    file,
    `listen:
  - address: 127.0.0.1:0
plugins:
${plugins}
routes:
  - match: { path: / }
    upstream: app
    plugins: ${routePlugins}
upstreams:
  app: { targets: [{ url: http://127.0.0.1:9 }] }
`,
  );
}

function check(
  plugins: string,
  routePlugins = '[good]',
): { status: number | null; stderr: string; stdout: string } {
  const file = join(dir, 'candor.yaml');
  writeConfig(file, plugins, routePlugins);
  const run = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stderr: run.stderr, stdout: run.stdout };
}

// The check of a module that never finishes its top-level code waits out the 5 s deadline of
// a module's import, doing nothing meanwhile: it runs from here, beside the other tests' checks,
// in a config file of its own, and its test takes what it said. The same command, config and bound.
const stuckFile = join(dir, 'stuck-candor.yaml');
writeConfig(stuckFile, '  good: { module: ./good.ts }\n  bad:\n    module: ./stuck.mjs', '[good, bad]');
const stuckCheck = new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
  const child = spawn(process.execPath, [BIN, 'check', stuckFile], { timeout: 20_000 });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.resume();
  child.on('error', reject);
  child.on('close', (status) => resolve({ status, stderr }));
});
// Awaited by its test; a failure to spawn is that test's, not an unhandled rejection before it.
stuckCheck.catch(() => {});

test('a config whose plugins load and take their options passes', () => {
  const run = check('  good: { module: ./good.ts, options: { n: 1 } }');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /ok/);
});

test('a module or package not found is named as the config wrote it, not by the gateway file that imported it', () => {
  const run = check('  good: { module: ./good.ts }\n  gone:\n    module: ./gone.ts', '[good, gone]');
  assert.equal(run.status, 78, run.stderr);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.gone\.module: cannot load \S*gone\.ts: Cannot find module '\S*gone\.ts'\n/,
  );
  const package_ = check(
    '  good: { module: ./good.ts }\n  gone:\n    module: candor-plugin-never-installed',
    '[good, gone]',
  );
  assert.equal(package_.status, 78, package_.stderr);
  assert.match(
    package_.stderr,
    /plugins\.gone\.module: cannot load candor-plugin-never-installed: Cannot find package 'candor-plugin-never-installed'\n/,
  );
  assert.doesNotMatch(run.stderr + package_.stderr, /plugin-import\.ts/);
});

// A package beside the config whose `exports` give it to `import` only (no `require`, no
// `default`), as many ES-module packages ship: looked up from the config's folder, as a package
// `require` can resolve is, not from wherever Candor itself is installed (a global install, an
// image's /usr/lib/node_modules), where Node's own lookup for Candor's module would not find it.
test('a package beside the config that only an import resolves (its exports, a subpath too) loads from there', () => {
  const pkg = join(dir, 'node_modules/@team/import-only');
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({
      name: '@team/import-only',
      type: 'module',
      exports: {
        '.': { types: './lib/index.d.ts', import: './lib/index.js' },
        './extra/*': { import: './lib/extra-*.js' },
        './package.json': './package.json',
      },
    }),
  );
  writeFileSync(join(pkg, 'lib/index.js'), 'export default () => ({});\n');
  writeFileSync(
    join(pkg, 'lib/extra-tag.js'),
    "export function validate(o) { return o?.n === 1 ? [] : [{ path: 'n', message: 'expected 1' }]; }\nexport default () => ({});\n",
  );
  const run = check(
    "  good: { module: '@team/import-only' }\n  tag: { module: '@team/import-only/extra/tag', options: { n: 2 } }",
    '[good, tag]',
  );
  assert.equal(run.status, 78, run.stderr);
  // Both loaded: the subpath's own check of its options is what is said, and nothing else.
  assert.match(run.stderr, /plugins\.tag\.options\.n: expected 1\n1 problem in /);
  const missing = check("  good: { module: '@team/import-only/nowhere' }");
  assert.equal(missing.status, 78, missing.stderr);
  assert.match(
    missing.stderr,
    /plugins\.good\.module: cannot load @team\/import-only\/nowhere: Package subpath '\.\/nowhere' is not defined by "exports" in \S*node_modules\/@team\/import-only\/package\.json\n/,
  );
  assert.doesNotMatch(missing.stderr, /plugin-import\.[jt]s/);
});

test('a module that does not load is named with its file, line and field', () => {
  const run = check('  good: { module: ./good.ts }\n  bad:\n    module: ./broken.ts', '[good, bad]');
  assert.equal(run.status, 78, run.stderr);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.bad\.module: cannot load .*broken\.ts: .* \(at \S*broken\.ts:1\)/,
  );
});

test("a JavaScript module's syntax error names its own file and line, as a TypeScript one's", () => {
  const run = check('  good: { module: ./good.ts }\n  bad:\n    module: ./broken.mjs', '[good, bad]');
  assert.equal(run.status, 78, run.stderr);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.bad\.module: cannot load \S*broken\.mjs: Unexpected token ';' \(at \S*broken\.mjs:3\)/,
  );
});

for (const module of ['imports-broken.mjs', 'imports-broken.ts'])
  test(`a syntax error in a file ${module} imports names that file and its line`, () => {
    const run = check(`  good: { module: ./good.ts }\n  bad:\n    module: ./${module}`, '[good, bad]');
    assert.equal(run.status, 78, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `candor\\.yaml:6:\\d+ +plugins\\.bad\\.module: cannot load \\S*${module.replace('.', '\\.')}: Unexpected token ',' \\(at \\S*helper-broken\\.mjs:3\\)`,
      ),
    );
  });

test('a module whose top-level code throws is refused naming its file and the line that threw', () => {
  const run = check('  good: { module: ./good.ts }\n  bad:\n    module: ./throws.mjs', '[good, bad]');
  assert.equal(run.status, 78, run.stderr);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.bad\.module: cannot load \S*throws\.mjs: not configured \(at \S*throws\.mjs:2\)/,
  );
});

test('a module whose top-level code calls process.exit cannot load: refused at its field (it ended the check with exit 0, saying nothing)', () => {
  const run = check('  good: { module: ./good.ts }\n  bad:\n    module: ./exits.mjs', '[good, bad]');
  assert.equal(run.status, 78, run.stderr);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.bad\.module: cannot load \S*exits\.mjs: its top-level code called process\.exit\(0\)/,
  );
});

test('a module whose top-level code calls process.abort, kills its own process or calls process.reallyExit cannot load: refused at its field', () => {
  for (const [file, call] of [
    ['aborts.mjs', 'process\\.abort\\(\\)'],
    ['kills.mjs', 'process\\.kill\\(\\d+, SIGKILL\\)'],
    ['really-exits.mjs', 'process\\.reallyExit\\(0\\)'],
  ]) {
    const run = check(`  good: { module: ./good.ts }\n  bad:\n    module: ./${file}`, '[good, bad]');
    assert.equal(run.status, 78, `${file}: ${run.stderr}`);
    assert.match(
      run.stderr,
      new RegExp(
        `candor\\.yaml:6:\\d+ +plugins\\.bad\\.module: cannot load \\S*${file}: its top-level code called ${call}`,
      ),
    );
  }
});

test('a module that leaves a timer running passes, and the check ends after its report', () => {
  const run = check('  good: { module: ./ticking.mjs }');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /ok/);
});

test('every command that loads the config ends after its report, whatever timer a module left (reload, purge)', () => {
  check('  good: { module: ./ticking.mjs }');
  for (const command of ['reload', 'purge']) {
    const run = spawnSync(process.execPath, [BIN, command, '--config', join(dir, 'candor.yaml')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(run.signal, null, `candor ${command} ended by itself`);
    assert.equal(run.status, 64, run.stderr);
    assert.match(run.stderr, /has no admin section/);
  }
});

test('a module without a factory, or one that is not there, is refused', () => {
  const none = check('  good: { module: ./nodefault.mjs }');
  assert.match(none.stderr, /plugins\.good\.module: cannot load .*: its default export is not a function/);
  // Candor's own refusal has no place in the plugin's code to name, and none in Candor's (its bin/candor.js).
  assert.match(none.stderr, /its default export is not a function \(options, context\) => hooks\n/);
  const missing = check('  good: { module: ./nowhere.ts }');
  assert.match(missing.stderr, /plugins\.good\.module: cannot load .*nowhere\.ts/);
  const nopackage = check('  good: { module: candor-no-such-plugin }');
  assert.match(nopackage.stderr, /plugins\.good\.module: cannot load candor-no-such-plugin/);
});

test("the plugin's own check of its options is the config's, at the option's field", () => {
  const run = check('  good:\n    module: ./picky.mjs\n    options: { limit: 99 }');
  assert.equal(run.status, 78);
  assert.match(run.stderr, /candor\.yaml:6:\d+ +plugins\.good\.options\.limit: expected at most 10/);
});

test("a validate that returns no list is the plugin's bug, refused at its options", () => {
  const run = check('  good:\n    module: ./says42.mjs\n    options: { limit: 1 }');
  assert.equal(run.status, 78);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.good\.options: the plugin's validate returned 42, not a list of problems/,
  );
});

test("an async validate is the plugin's bug, named as such: its promise is no list of problems", () => {
  const run = check('  good:\n    module: ./async-validate.mjs\n    options: { limit: 1 }');
  assert.equal(run.status, 78);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.good\.options: the plugin's validate returned a promise: it must return its list of problems at once/,
  );
  assert.doesNotMatch(run.stderr, /later|unhandled/i);
});

test('a route naming a plugin the config lacks: did you mean', () => {
  const run = check('  good: { module: ./good.ts }', '[god]');
  assert.equal(run.status, 78);
  assert.match(run.stderr, /routes\[0\]\.plugins\[0\]: no plugin named 'god' \(did you mean 'good'\?\)/);
});

test("an included file's plugin: its module taken from that file's folder, a broken one named at that file's line", () => {
  const team = join(dir, 'team');
  mkdirSync(team, { recursive: true });
  writeFileSync(join(team, 'tag.mjs'), 'export default () => ({});\n');
  writeFileSync(join(team, 'broken.mjs'), 'export default () => ({\n  onRequest( {\n});\n');
  const file = join(dir, 'with-include.yaml');
  const run = (module: string) => {
    writeFileSync(
      join(team, 'routes.yaml'),
      `plugins:\n  tag:\n    module: ${module}\nroutes:\n  - { match: { path: /team }, upstream: app, plugins: [tag] }\n`,
    );
    writeFileSync(
      file,
      `listen: [{ address: 127.0.0.1:0 }]
include: [team/routes.yaml]
routes:
  - { match: { path: / }, upstream: app, plugins: [tag] }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:9 }] }
`,
    );
    return spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8', timeout: 20_000 });
  };
  const good = run('./tag.mjs');
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /ok/);
  const broken = run('./broken.mjs');
  assert.equal(broken.status, 78, broken.stderr);
  assert.match(
    broken.stderr,
    /team\/routes\.yaml:3:\d+ +plugins\.tag\.module: cannot load \S*team\/broken\.mjs: Unexpected token ';' \(at \S*team\/broken\.mjs:3\)/,
  );
});

// Last: its check has run beside all the others' (above).
test('a module whose top-level code never finishes is refused past its deadline, naming it; the check ends', async () => {
  const run = await stuckCheck;
  assert.equal(run.status, 78, run.stderr);
  assert.match(
    run.stderr,
    /candor\.yaml:6:\d+ +plugins\.bad\.module: cannot load \S*stuck\.mjs: its top-level code did not finish within 5000 ms/,
  );
});

// The other problems name the file as the command line gave it; a plugin's named its absolute
// path (/tmp/…/candor.yaml:6:…, "1 problem in /tmp/…/candor.yaml").
test('a plugin problem names the config file as the command line gave it, as every other problem does', () => {
  writeConfig(
    join(dir, 'relative.yaml'),
    '  good: { module: ./good.ts }\n  gone:\n    module: ./gone.ts',
    '[good, gone]',
  );
  const run = spawnSync(process.execPath, [BIN, 'check', 'relative.yaml'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(run.status, 78, run.stderr);
  assert.match(run.stderr, /^relative\.yaml:6:\d+ +plugins\.gone\.module: cannot load /);
  assert.match(run.stderr, /\n1 problem in relative\.yaml\n$/);
});
